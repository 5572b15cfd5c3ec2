package verify_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// keyServer serves Google's JWKS format (what
// https://www.googleapis.com/oauth2/v3/certs returns) for one RSA key, and
// signs ID tokens with it as Google would.
type keyServer struct {
	key    *rsa.PrivateKey
	srv    *httptest.Server
	client *http.Client // every request goes to srv, whatever its URL
}

func newKeyServer(t *testing.T) *keyServer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ks := &keyServer{key: key}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/v3/certs" {
			http.NotFound(w, r)
			return
		}
		enc := base64.RawURLEncoding
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kid": "k1", "kty": "RSA", "alg": "RS256", "use": "sig",
			"n": enc.EncodeToString(key.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	t.Cleanup(ks.srv.Close)
	target, _ := url.Parse(ks.srv.URL)
	ks.client = &http.Client{Transport: rewrite{target}}
	return ks
}

type rewrite struct{ target *url.URL }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = rw.target.Scheme, rw.target.Host
	return http.DefaultTransport.RoundTrip(r)
}

func (ks *keyServer) token(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ks.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

func TestOIDCTokens(t *testing.T) {
	ks := newKeyServer(t)
	const email = "pusher@proj.iam.gserviceaccount.com"
	const aud = "https://hooks.example.com/pubsub"
	good := func() map[string]any {
		n := time.Now()
		return map[string]any{"iss": "https://accounts.google.com", "aud": aud, "email": email, "email_verified": true,
			"sub": "1", "iat": n.Unix(), "exp": n.Add(time.Hour).Unix()}
	}
	with := func(k string, v any) map[string]any { c := good(); c[k] = v; return c }
	tests := []struct {
		name   string
		auth   func() string
		cfgAud string
		want   error
	}{
		{"google token of the service account", func() string { return "Bearer " + ks.token(t, "k1", good()) }, aud, nil},
		{"other service account", func() string { return "Bearer " + ks.token(t, "k1", with("email", "evil@x.com")) }, aud, verify.ErrBadSignature},
		{"unverified email", func() string { return "Bearer " + ks.token(t, "k1", with("email_verified", false)) }, aud, verify.ErrBadSignature},
		{"other audience", func() string { return "Bearer " + ks.token(t, "k1", with("aud", "https://other")) }, aud, verify.ErrBadSignature},
		{"other issuer", func() string { return "Bearer " + ks.token(t, "k1", with("iss", "https://evil.example")) }, aud, verify.ErrBadSignature},
		{"expired", func() string { return "Bearer " + ks.token(t, "k1", with("exp", time.Now().Add(-time.Minute).Unix())) }, aud, verify.ErrTooOld},
		{"unknown key id", func() string { return "Bearer " + ks.token(t, "k9", good()) }, aud, verify.ErrUnknownKey},
		{"tampered payload", func() string {
			tok := strings.Split(ks.token(t, "k1", good()), ".")
			p, _ := json.Marshal(with("email", email+"x"))
			return "Bearer " + tok[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + tok[2]
		}, aud, verify.ErrBadSignature},
		{"not a bearer token", func() string { return "Basic abc" }, aud, verify.ErrMalformedHeader},
		{"not a JWT", func() string { return "Bearer abc" }, aud, verify.ErrMalformedHeader},
		{"no authorization", func() string { return "" }, aud, verify.ErrMissingHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.New("pubsub", verify.Config{Scheme: "oidc", Audience: tt.cfgAud, Email: email}, nil,
				verify.WithHTTPClient(ks.client))
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, aud, strings.NewReader("{}"))
			if a := tt.auth(); a != "" {
				r.Header.Set("Authorization", a)
			}
			_, err = v.Verify(context.Background(), r, []byte("{}"))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOIDCKeysUnreachableIsUnavailable(t *testing.T) {
	ks := newKeyServer(t)
	ks.srv.Close()
	v, err := verify.New("pubsub", verify.Config{Scheme: "oidc", Audience: "https://a", Email: "e@x"}, nil, verify.WithHTTPClient(ks.client))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "https://a", nil)
	r.Header.Set("Authorization", "Bearer "+ks.token(t, "k1", map[string]any{"aud": "https://a", "exp": time.Now().Add(time.Hour).Unix()}))
	if _, err := v.Verify(context.Background(), r, nil); !errors.Is(err, verify.ErrSecretUnavailable) {
		t.Fatalf("Verify = %v, want ErrSecretUnavailable (Google's keys could not be fetched: retry)", err)
	}
}

// Attack: any receiver that the same service account pushes to holds
// tokens for its own audience. Sent here with that receiver's Host, such a
// token must not pass: the audience is this source's, fixed in the
// configuration, never taken from the request. A source without one does
// not start.
func TestOIDCTokenOfAnotherReceiverIsRefused(t *testing.T) {
	ks := newKeyServer(t)
	const email = "pusher@proj.iam.gserviceaccount.com"
	const other = "https://other-receiver.example/push"
	n := time.Now()
	token := ks.token(t, "k1", map[string]any{"iss": "https://accounts.google.com", "aud": other, "email": email,
		"email_verified": true, "sub": "1", "iat": n.Unix(), "exp": n.Add(time.Hour).Unix()})
	attack := func(t *testing.T, v *verify.Verifier) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "https://hooks.example.com/pubsub", strings.NewReader("{}"))
		r.Host = "other-receiver.example"
		r.URL.Path = "/push"
		r.Header.Set("Authorization", "Bearer "+token)
		if _, err := v.Verify(context.Background(), r, []byte("{}")); !errors.Is(err, verify.ErrBadSignature) {
			t.Fatalf("another receiver's token with its Host: Verify = %v, want ErrBadSignature", err)
		}
	}

	v, err := verify.New("pubsub", verify.Config{Scheme: "oidc", Email: email}, nil, verify.WithHTTPClient(ks.client))
	if err == nil {
		attack(t, v)
		t.Fatal("an oidc source without audience started")
	}
	if !strings.Contains(err.Error(), "verify.audience") {
		t.Fatalf("New = %v, want an error naming verify.audience", err)
	}
	v, err = verify.New("pubsub", verify.Config{Scheme: "oidc", Email: email, Audience: "https://hooks.example.com/pubsub"}, nil,
		verify.WithHTTPClient(ks.client))
	if err != nil {
		t.Fatal(err)
	}
	attack(t, v)
}
