package verify_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/secrets/secretstest"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// smVerifier is a GitHub verifier whose key lives in a fake Secret Manager
// reached by the real client, as deployed.
func smVerifier(tb testing.TB, keys string) (*verify.Verifier, *secretstest.Server) {
	tb.Helper()
	sm := secretstest.Start(tb)
	sm.Add("p", "github-webhook-secret", []byte(keys))
	resolver := secrets.NewResolver(secrets.Options{Project: "p", Client: sm.Client(tb)})
	v, err := verify.New("github", verify.Config{Scheme: "github", Secret: "sm:github-webhook-secret"}, resolver)
	if err != nil {
		tb.Fatal(err)
	}
	return v, sm
}

func githubRequest(tb testing.TB, key string, body []byte) *http.Request {
	tb.Helper()
	r := httptest.NewRequest(http.MethodPost, "https://h.example/github", nil)
	if err := verify.Sign(verify.Config{Scheme: "github"}, []byte(key), time.Now(), r, body); err != nil {
		tb.Fatal(err)
	}
	return r
}

// Verifications with a warm secret cache make no Secret Manager call, and
// a secret holding two keys (one per line, mid-rotation) accepts both.
func TestWarmSecretCacheMakesNoSecretManagerCall(t *testing.T) {
	v, sm := smVerifier(t, "old-key-0123456789\nnew-key-0123456789\n")
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	for i := range 100 {
		key := []string{"old-key-0123456789", "new-key-0123456789"}[i%2]
		if _, err := v.Verify(context.Background(), githubRequest(t, key, body), body); err != nil {
			t.Fatalf("verification %d with %s: %v", i, key, err)
		}
	}
	if _, err := v.Verify(context.Background(), githubRequest(t, "retired-key-0123456789", body), body); err == nil {
		t.Fatal("a key not in the secret verified")
	}
	if calls := sm.Calls(); calls != 1 {
		t.Errorf("101 verifications made %d Secret Manager calls, want 1", calls)
	}
}

// An error from a secret Secret Manager cannot serve names the reference
// and wraps ErrSecretUnavailable, so the pipeline answers 503, not 401.
func TestSecretManagerOutageIsSecretUnavailable(t *testing.T) {
	sm := secretstest.Start(t)
	resolver := secrets.NewResolver(secrets.Options{Project: "p", Client: sm.Client(t)})
	v, err := verify.New("github", verify.Config{Scheme: "github", Secret: "sm:never-added"}, resolver)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{}`)
	_, err = v.Verify(context.Background(), githubRequest(t, "some-key-0123456789", body), body)
	if err == nil || !strings.Contains(err.Error(), "never-added") {
		t.Fatalf("Verify with a missing secret: %v", err)
	}
	if !errors.Is(err, verify.ErrSecretUnavailable) {
		t.Errorf("error %v does not wrap ErrSecretUnavailable", err)
	}
}

// BenchmarkVerifyWarmSecretCache reports the Secret Manager calls per
// verification once the cache is warm (0).
func BenchmarkVerifyWarmSecretCache(b *testing.B) {
	v, sm := smVerifier(b, "bench-key-0123456789")
	body := benchPayload(1 << 10)
	r := githubRequest(b, "bench-key-0123456789", body)
	if _, err := v.Verify(context.Background(), r, body); err != nil {
		b.Fatal(err)
	}
	before := sm.Calls()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), r, body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sm.Calls()-before)/float64(b.N), "sm-calls/op")
}

// benchPayload is a JSON body of n bytes.
func benchPayload(n int) []byte {
	b := bytes.Repeat([]byte("x"), n)
	copy(b, `{"type":"bench","pad":"`)
	b[n-2], b[n-1] = '"', '}'
	return b
}
