package verify

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// googleIssuers are the issuers of Google-signed ID tokens.
var googleIssuers = map[string]bool{"accounts.google.com": true, "https://accounts.google.com": true}

// oidcScheme checks "Authorization: Bearer <Google-signed ID token>", as
// sent by Pub/Sub push subscriptions, Cloud Scheduler and Cloud Tasks: the
// signature against Google's published keys, the issuer, the expiry, the
// audience and the service account's email.
//
// The email is required: any Google account can mint a token for any
// audience, so the audience alone proves nothing about who sent it. The
// audience is required too: one service account pushing to several
// receivers holds tokens for each, and an audience read from the request's
// Host would accept any of them here.
type oidcScheme struct {
	audience, email string

	once      sync.Once
	client    *http.Client // nil: the default client (tests point it at a fake key server)
	keys      *keysTransport
	validator *idtoken.Validator
	err       error
}

// checkGoogleJWT checks the shape of a Google-signed ID token (three
// base64url segments, a JSON header with alg RS256 and a key id, a
// signature) and returns its key id. RS256 is the only algorithm of the
// tokens this scheme accepts (service accounts' ID tokens); the validator
// would also take ES256, against IAP's keys, another issuer's, and slice a
// signature shorter than 32 bytes past its end.
func checkGoogleJWT(token string) (kid string, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("%w: bearer token is not a JWT", ErrMalformedHeader)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err != nil || json.Unmarshal(raw, &h) != nil {
		return "", fmt.Errorf("%w: bearer token's header is not base64url JSON", ErrMalformedHeader)
	}
	if h.Alg != "RS256" {
		return "", fmt.Errorf("%w: bearer token signed with %.40q, want RS256", ErrMalformedHeader, h.Alg)
	}
	if h.Kid == "" {
		return "", fmt.Errorf("%w: bearer token names no key id", ErrMalformedHeader)
	}
	if sig, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil || len(sig) == 0 {
		return "", fmt.Errorf("%w: bearer token's signature is not base64url", ErrMalformedHeader)
	}
	return h.Kid, nil
}

// maxKeySetBytes bounds the key set read from Google (a few KiB today).
const maxKeySetBytes = 64 << 10

// keysError is a failure to fetch Google's signing keys: ours, retried.
type keysError struct{ err error }

func (e *keysError) Error() string { return "fetching Google's signing keys: " + e.err.Error() }
func (e *keysError) Unwrap() error { return e.err }

// keysTransport carries the validator's fetches of Google's key sets. A
// fetch that fails (no answer, a status other than 200, a body that is not
// a key set of decodable keys) is a *keysError, which the http.Client
// wraps in a *url.Error and the validator returns as it is: errors.As finds
// it whatever the validator's message. It also keeps the key ids of the
// last set fetched, so that a token naming another is told apart
// (ErrUnknownKey) without reading the validator's message.
type keysTransport struct {
	base http.RoundTripper
	kids atomic.Pointer[map[string]bool]
}

func (t *keysTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, &keysError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &keysError{fmt.Errorf("%s answered %d", r.URL.Host, resp.StatusCode)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	switch {
	case err != nil:
		return nil, &keysError{fmt.Errorf("reading %s: %w", r.URL.Host, err)}
	case len(body) > maxKeySetBytes:
		return nil, &keysError{fmt.Errorf("%s answered more than %d bytes", r.URL.Host, maxKeySetBytes)}
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, &keysError{fmt.Errorf("%s answered no key set: %w", r.URL.Host, err)}
	}
	if len(set.Keys) == 0 {
		return nil, &keysError{fmt.Errorf("%s answered an empty key set", r.URL.Host)}
	}
	kids := make(map[string]bool, len(set.Keys))
	for _, k := range set.Keys {
		for _, f := range []string{k.N, k.E, k.X, k.Y} {
			if _, err := base64.RawURLEncoding.DecodeString(f); err != nil {
				return nil, &keysError{fmt.Errorf("%s answered key %.100q that does not decode", r.URL.Host, k.Kid)}
			}
		}
		kids[k.Kid] = true
	}
	t.kids.Store(&kids)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// publishes reports whether the last key set fetched holds kid.
func (t *keysTransport) publishes(kid string) bool {
	kids := t.kids.Load()
	return kids != nil && (*kids)[kid]
}

func newOIDC(cfg Config) (scheme, error) {
	if cfg.Email == "" {
		return nil, errors.New("verify.email: scheme oidc needs the service account whose tokens are accepted")
	}
	if cfg.Audience == "" {
		return nil, errors.New("verify.audience: scheme oidc needs the audience its tokens are minted for (the push endpoint's URL): " +
			"taken from the request, it would accept tokens the same service account minted for any other receiver")
	}
	return &oidcScheme{audience: cfg.Audience, email: cfg.Email}, nil
}

func (s *oidcScheme) useClient(c *http.Client) { s.client = c }

func (*oidcScheme) needsSecret() bool                  { return false }
func (*oidcScheme) decodeKey(line []byte) (key, error) { return key{secret: line}, nil }

func (*oidcScheme) sign(*http.Request, []byte, []byte, time.Time) error {
	return errors.New("verify: oidc tokens are minted by Google, not signed with a secret")
}

// verify classifies every failure by type, never by message: the idtoken
// validator's errors are messages, some quoting the token (its "alg"), so
// sorting them by text would let a sender choose the answer (an alg of
// "dial" read as a transport failure: 503). The token's structure is
// checked here first, every fetch of
// Google's keys goes through keysTransport, whose failures are a type, and
// what the validator still refuses is the sender's fault: a 401.
func (s *oidcScheme) verify(in *input, _ []key) (Identity, error) {
	v, err := in.header("Authorization")
	if err != nil {
		return Identity{}, err
	}
	token, ok := cutPrefixFold(v, "Bearer ")
	if !ok {
		return Identity{}, fmt.Errorf("%w: Authorization is not Bearer", ErrMalformedHeader)
	}
	token = strings.TrimSpace(token)
	kid, err := checkGoogleJWT(token)
	if err != nil {
		return Identity{}, err
	}
	p, err := idtoken.ParsePayload(token)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: bearer token's payload is not JSON claims", ErrMalformedHeader)
	}
	// The validator checks these too, but its answer would be a message.
	if p.Audience != s.audience {
		return Identity{}, fmt.Errorf("%w: token for audience %.200q", ErrBadSignature, p.Audience)
	}
	if exp := time.Unix(p.Expires, 0); in.now.After(exp) {
		return Identity{}, fmt.Errorf("%w: token expired at %s", ErrTooOld, exp.UTC().Format(time.RFC3339))
	}
	s.once.Do(func() {
		s.keys = &keysTransport{base: http.DefaultTransport}
		c := &http.Client{}
		if s.client != nil {
			*c = *s.client
			if c.Transport != nil {
				s.keys.base = c.Transport
			}
		}
		c.Transport = s.keys
		s.validator, s.err = idtoken.NewValidator(in.ctx, option.WithHTTPClient(c))
	})
	if s.err != nil {
		return Identity{}, fmt.Errorf("%w: oidc validator: %w", ErrSecretUnavailable, s.err)
	}
	if _, err := s.validator.Validate(in.ctx, token, s.audience); err != nil {
		var unavailable *keysError
		switch {
		case errors.As(err, &unavailable):
			return Identity{}, fmt.Errorf("%w: Google's signing keys: %w", ErrSecretUnavailable, unavailable)
		case !s.keys.publishes(kid):
			return Identity{}, fmt.Errorf("%w: key id %.100q is not among Google's", ErrUnknownKey, kid)
		case errors.Is(err, rsa.ErrVerification):
			return Identity{}, fmt.Errorf("%w: RS256 signature", ErrBadSignature)
		}
		return Identity{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if !googleIssuers[p.Issuer] {
		return Identity{}, fmt.Errorf("%w: issuer %q is not Google", ErrBadSignature, p.Issuer)
	}
	email, _ := p.Claims["email"].(string)
	verified, _ := p.Claims["email_verified"].(bool)
	if email != s.email || !verified {
		return Identity{}, fmt.Errorf("%w: token of %q, want verified %q", ErrBadSignature, email, s.email)
	}
	if iat := time.Unix(p.IssuedAt, 0); iat.Sub(in.now) > in.tolerance {
		return Identity{}, fmt.Errorf("%w: token issued at %s", ErrTooNew, iat.UTC().Format(time.RFC3339))
	}
	return Identity{Timestamp: time.Unix(p.IssuedAt, 0)}, nil
}
