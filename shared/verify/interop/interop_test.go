package interop_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// memSecrets is the in-memory secret source of these tests: the
// reference is the secret's name, the value its keys, one per line.
type memSecrets map[string]string

func (m memSecrets) Secret(_ context.Context, ref string) ([]byte, error) {
	v, ok := m[ref]
	if !ok {
		return nil, fmt.Errorf("secret %s not found", ref)
	}
	return []byte(v), nil
}

// secretRef is the one reference every test's Config names.
const secretRef = "env:INTEROP_SECRET"

// fixed is the signing time of the requests the SDKs sign for us to
// verify, with a verifier whose clock stands there. Requests we sign for
// an SDK are signed at time.Now: the SDKs check freshness against their
// own clock.
var fixed = time.Unix(1_700_000_000, 0)

// ourVerifier builds the verifier of cfg (Secret filled in) keyed with
// secret, whose clock reads at.
func ourVerifier(t testing.TB, cfg verify.Config, secret string, at time.Time) *verify.Verifier {
	t.Helper()
	cfg.Secret = secretRef
	v, err := verify.New("interop", cfg, memSecrets{secretRef: secret}, verify.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatalf("verify.New(%+v): %v", cfg, err)
	}
	return v
}

// post is a POST of body to url with the given Content-Type ("" for
// none), its body readable once by an SDK that reads the request.
func post(url, contentType string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// ourSigned is a POST of body signed by verify.Sign with key at time at.
func ourSigned(t testing.TB, cfg verify.Config, key string, at time.Time, url, contentType string, body []byte) *http.Request {
	t.Helper()
	r := post(url, contentType, body)
	if err := verify.Sign(cfg, []byte(key), at, r, body); err != nil {
		t.Fatalf("verify.Sign(%s): %v", cfg.Scheme, err)
	}
	return r
}

// tampered is body with its last byte changed: what every verifier must
// refuse under a signature of body.
func tampered(body []byte) []byte {
	b := bytes.Clone(body)
	b[len(b)-1] ^= 1
	return b
}

func hexString(b []byte) string { return hex.EncodeToString(b) }
