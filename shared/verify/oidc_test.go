package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
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
// signs ID tokens with it as Google would. It also serves IAP's key set
// (https://www.gstatic.com/iap/verify/public_key-jwk, P-256 keys), which
// the idtoken validator reads for ES256 tokens.
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
	iap, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ks := &keyServer{key: key}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := base64.RawURLEncoding
		if r.URL.Path == "/iap/verify/public_key-jwk" {
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
				"kid": "k1", "kty": "EC", "alg": "ES256", "use": "sig", "crv": "P-256",
				"x": enc.EncodeToString(iap.X.FillBytes(make([]byte, 32))), "y": enc.EncodeToString(iap.Y.FillBytes(make([]byte, 32))),
			}}})
			return
		}
		if r.URL.Path != "/oauth2/v3/certs" {
			http.NotFound(w, r)
			return
		}
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

// tokenWithHeader signs claims under header as the key server's key would,
// whatever the header says: what an attacker who sends a token with the
// header of their choice produces (the signature is over their own bytes).
func (ks *keyServer) tokenWithHeader(t *testing.T, header map[string]string, claims map[string]any, sig []byte) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "." + enc.EncodeToString(sig)
}

// Attack: the token's header is the sender's text, and a validator that
// sorts its errors by message reads the sender's words. An "alg" of "dial"
// (or any other phrase a transport failure contains) turned a forged token
// into ErrSecretUnavailable: a 503, logged at ERROR, that trips the 5xx
// alert and asks the sender to retry. Each of these tokens is the sender's
// fault, refused with a 401 error, never "unavailable".
func TestOIDCForgedTokenIsNeverUnavailable(t *testing.T) {
	ks := newKeyServer(t)
	const email = "pusher@proj.iam.gserviceaccount.com"
	const aud = "https://hooks.example.com/pubsub"
	n := time.Now()
	claims := map[string]any{"iss": "https://accounts.google.com", "aud": aud, "email": email, "email_verified": true,
		"sub": "1", "iat": n.Unix(), "exp": n.Add(time.Hour).Unix()}
	junk := make([]byte, 256)
	tests := []struct {
		name   string
		header map[string]string
		sig    []byte
	}{
		{"alg dial", map[string]string{"alg": "dial", "kid": "k1"}, junk},
		{"alg naming an HTTP GET", map[string]string{"alg": `Get "https://www.googleapis.com/oauth2/v3/certs"`, "kid": "k1"}, junk},
		{"alg naming a cert retrieval", map[string]string{"alg": "unable to retrieve cert", "kid": "k1"}, junk},
		{"alg naming a keyId", map[string]string{"alg": "keyId", "kid": "k1"}, junk},
		{"alg none", map[string]string{"alg": "none", "kid": "k1"}, nil},
		{"alg HS256", map[string]string{"alg": "HS256", "kid": "k1"}, junk},
		// ES256 sends the validator to IAP's keys (another issuer's, whose
		// key ids are public), where a signature shorter than 32 bytes is
		// sliced past its end: a panic on the sender's input.
		{"alg ES256 with a short signature", map[string]string{"alg": "ES256", "kid": "k1"}, []byte{1}},
		{"kid dial", map[string]string{"alg": "RS256", "kid": "dial tcp: lookup www.googleapis.com"}, junk},
		{"RS256 with a wrong signature", map[string]string{"alg": "RS256", "kid": "k1"}, junk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.New("pubsub", verify.Config{Scheme: "oidc", Audience: aud, Email: email}, nil,
				verify.WithHTTPClient(ks.client))
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, aud, strings.NewReader("{}"))
			r.Header.Set("Authorization", "Bearer "+ks.tokenWithHeader(t, tt.header, claims, tt.sig))
			_, err = v.Verify(context.Background(), r, []byte("{}"))
			if errors.Is(err, verify.ErrSecretUnavailable) {
				t.Fatalf("Verify = %v: a forged token answered as unavailable (503)", err)
			}
			if !errors.Is(err, verify.ErrMalformedHeader) && !errors.Is(err, verify.ErrBadSignature) && !errors.Is(err, verify.ErrUnknownKey) {
				t.Fatalf("Verify = %v, want ErrMalformedHeader, ErrBadSignature or ErrUnknownKey (401)", err)
			}
		})
	}
}

// Only our side of the exchange is unavailable: Google's key endpoint
// unreachable, answering an error status, or answering something that is
// not a key set. Each is a 503 (the sender retries), whatever the token.
func TestOIDCKeysThatCannotBeFetchedAreUnavailable(t *testing.T) {
	const aud = "https://a"
	tests := []struct {
		name   string
		handle http.HandlerFunc
	}{
		{"unreachable", nil},
		{"error status", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "backend error", http.StatusInternalServerError)
		}},
		{"not a key set", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>captive portal</html>")) }},
		{"an empty key set", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"keys":[]}`)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := newKeyServer(t)
			if tt.handle == nil {
				ks.srv.Close()
			} else {
				ks.srv.Config.Handler = tt.handle
			}
			v, err := verify.New("pubsub", verify.Config{Scheme: "oidc", Audience: aud, Email: "e@x"}, nil, verify.WithHTTPClient(ks.client))
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, aud, nil)
			r.Header.Set("Authorization", "Bearer "+ks.token(t, "k1", map[string]any{"aud": aud, "exp": time.Now().Add(time.Hour).Unix()}))
			if _, err := v.Verify(context.Background(), r, nil); !errors.Is(err, verify.ErrSecretUnavailable) {
				t.Fatalf("Verify = %v, want ErrSecretUnavailable (Google's keys could not be fetched: retry)", err)
			}
		})
	}
}
