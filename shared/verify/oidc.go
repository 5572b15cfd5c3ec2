package verify

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
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
	validator *idtoken.Validator
	err       error
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
	if _, err := idtoken.ParsePayload(token); err != nil {
		return Identity{}, fmt.Errorf("%w: bearer token is not a JWT", ErrMalformedHeader)
	}
	s.once.Do(func() {
		var opts []idtoken.ClientOption
		if s.client != nil {
			opts = append(opts, option.WithHTTPClient(s.client))
		}
		s.validator, s.err = idtoken.NewValidator(in.ctx, opts...)
	})
	if s.err != nil {
		return Identity{}, fmt.Errorf("%w: oidc validator: %w", ErrSecretUnavailable, s.err)
	}
	p, err := s.validator.Validate(in.ctx, token, s.audience)
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "keyId"):
			return Identity{}, fmt.Errorf("%w: %s", ErrUnknownKey, msg)
		case strings.Contains(msg, "retrieve cert") || strings.Contains(msg, "dial") || strings.Contains(msg, "Get \""):
			return Identity{}, fmt.Errorf("%w: Google's signing keys: %s", ErrSecretUnavailable, msg)
		case strings.Contains(msg, "expired"):
			return Identity{}, fmt.Errorf("%w: %s", ErrTooOld, msg)
		}
		return Identity{}, fmt.Errorf("%w: %s", ErrBadSignature, msg)
	}
	if !googleIssuers[p.Issuer] {
		return Identity{}, fmt.Errorf("%w: issuer %q is not Google", ErrBadSignature, p.Issuer)
	}
	email, _ := p.Claims["email"].(string)
	verified, _ := p.Claims["email_verified"].(bool)
	if email != s.email || !verified {
		return Identity{}, fmt.Errorf("%w: token of %q, want verified %q", ErrBadSignature, email, s.email)
	}
	exp := time.Unix(p.Expires, 0)
	if in.now.After(exp) {
		return Identity{}, fmt.Errorf("%w: token expired at %s", ErrTooOld, exp.UTC().Format(time.RFC3339))
	}
	if iat := time.Unix(p.IssuedAt, 0); iat.Sub(in.now) > in.tolerance {
		return Identity{}, fmt.Errorf("%w: token issued at %s", ErrTooNew, iat.UTC().Format(time.RFC3339))
	}
	return Identity{Timestamp: time.Unix(p.IssuedAt, 0)}, nil
}
