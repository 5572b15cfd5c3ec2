// Package verify proves that a webhook request comes from the provider it
// claims, before anything is stored, relayed or triggered. It knows the
// signing schemes of the common providers (GitHub, GitLab, Stripe, Slack,
// Standard Webhooks and Svix, Shopify, Logto, Twilio, Zoom, X), generic HMAC
// and shared-token schemes, and Google-signed OIDC tokens, and checks each
// over the raw request bytes with constant-time comparisons.
//
// A source's Config names its scheme and a secret reference (package
// secrets). A secret holds one key per line; a request passes when any key
// matches, which is how keys are rotated: add the new key as a second line,
// switch the provider over, then delete the old line.
//
//	v, err := verify.New("github", verify.Config{Scheme: "github", Secret: "sm:github-webhook-secret"}, resolver)
//	...
//	id, err := v.Verify(ctx, r, body) // body: the raw bytes, read once
//	switch {
//	case errors.Is(err, verify.ErrSecretUnavailable): // 503, the provider retries
//	case err != nil: // 401
//	case id.Acknowledge: // a ping: answer 200, do nothing
//	}
//
// Where a scheme signs a timestamp (Stripe, Slack, Standard Webhooks, Zoom),
// a request more than the tolerance (default 5 minutes) away from now, in
// either direction, is refused: a captured request cannot be replayed later.
//
// Sign is the other half of every scheme: tests, the sender command and the
// Trigger function's HTTP actions sign with the same code that verifies.
//
// The subpackages answer what comes before verification: handshake (the
// ownership checks providers make when a URL is registered) and ipallow (an
// optional allowlist of client addresses).
package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Errors of Verify, matched with errors.Is. The pipeline answers
// ErrSecretUnavailable with 503 (the provider retries once the secret can be
// read again) and every other one with 401.
var (
	// ErrSecretUnavailable means the source's secret could not be read or
	// holds no usable key: our fault, not the sender's.
	ErrSecretUnavailable = errors.New("verify: secret unavailable")
	// ErrMissingHeader means a header the scheme needs is absent.
	ErrMissingHeader = errors.New("verify: missing header")
	// ErrMalformedHeader means a header the scheme needs cannot be parsed.
	ErrMalformedHeader = errors.New("verify: malformed header")
	// ErrBadSignature means no key produces the request's signature or
	// token.
	ErrBadSignature = errors.New("verify: signature does not match")
	// ErrTooOld means the signed timestamp is older than the tolerance.
	ErrTooOld = errors.New("verify: timestamp too old")
	// ErrTooNew means the signed timestamp is further in the future than
	// the tolerance.
	ErrTooNew = errors.New("verify: timestamp too new")
	// ErrUnknownKey means a token names a signing key that the issuer does
	// not publish (OIDC).
	ErrUnknownKey = errors.New("verify: unknown signing key")
)

// DefaultTolerance is how far a signed timestamp may be from now, in either
// direction, when a source sets no tolerance: Stripe's and Standard
// Webhooks' own default.
const DefaultTolerance = 5 * time.Minute

// SecretSource reads secret values by reference. *secrets.Resolver is the
// one used in deployments: Secret Manager with a cache.
type SecretSource interface {
	Secret(ctx context.Context, ref string) ([]byte, error)
}

// Identity is what verification learned about a request from the
// provider's headers: the pipeline builds the event envelope from it and
// falls back to the payload for what is empty here.
type Identity struct {
	// ID is the provider's delivery or event id (X-GitHub-Delivery,
	// webhook-id...), the same on every retry of one event.
	ID string
	// IDField names the top-level payload field that holds the event id
	// when no header does (Stripe's "id", Slack's "event_id"). Reading it is
	// left to the pipeline, which parses the payload once anyway:
	// verification stays a pass over the raw bytes.
	IDField string
	// Type is the provider's event type when a header carries it.
	Type string
	// TypeField names the top-level payload field that holds the event
	// type when no header does.
	TypeField string
	// Timestamp is the signed send time, zero when the scheme signs none.
	Timestamp time.Time
	// Acknowledge means the request is a provider's liveness check
	// (GitHub's ping) that is answered 200 without reaching the pattern.
	Acknowledge bool
}

// Verifier checks the requests of one source. It is safe for concurrent
// use.
type Verifier struct {
	source    string
	cfg       Config
	scheme    scheme
	secrets   SecretSource
	tolerance time.Duration
	now       func() time.Time
	logger    *slog.Logger

	mu     sync.Mutex
	parsed map[string]parsedKeys // by secret reference
}

// parsedKeys caches the keys of the last secret value read, so that a
// cached secret costs a comparison instead of a parse per request.
type parsedKeys struct {
	raw  []byte
	keys []key
}

// Option adjusts a Verifier.
type Option func(*Verifier)

// WithLogger sets the logger that start-up warnings (scheme none, keys that
// do not decode) go to.
func WithLogger(l *slog.Logger) Option {
	return func(v *Verifier) {
		if l != nil {
			v.logger = l
		}
	}
}

// WithClock sets the clock that signed timestamps are compared with; tests
// use it to replay published examples.
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) {
		if now != nil {
			v.now = now
		}
	}
}

// New checks cfg and returns the verifier of the source named source. Its
// errors start with the field at fault ("verify.secret: …"), for the
// caller to place in the configuration file (config.Function.Located). The
// secret is not read here: it is read (through the source's cache) on each
// request, so a rotated secret is picked up without a restart.
func New(source string, cfg Config, secrets SecretSource, opts ...Option) (*Verifier, error) {
	s, err := newScheme(cfg)
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		source:    source,
		cfg:       cfg,
		scheme:    s,
		secrets:   secrets,
		tolerance: DefaultTolerance,
		now:       time.Now,
		logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		parsed:    map[string]parsedKeys{},
	}
	if p, ok := Lookup(cfg.Scheme); ok && p.Tolerance > 0 {
		// The provider's documented window (Paddle's SDK: 5 s), unless
		// verify.tolerance says otherwise.
		v.tolerance = p.Tolerance
	}
	for _, o := range opts {
		o(v)
	}
	if cfg.Tolerance != "" {
		d, err := time.ParseDuration(cfg.Tolerance)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("verify.tolerance: %q is not a positive duration such as 5m", cfg.Tolerance)
		}
		v.tolerance = d
	}
	needs := s.needsSecret()
	switch {
	case needs && cfg.Secret == "":
		return nil, fmt.Errorf("verify.secret: scheme %q needs a secret reference", cfg.Scheme)
	case !needs && cfg.Secret != "" && len(cfg.Handshakes) == 0:
		return nil, fmt.Errorf("verify.secret: scheme %q uses no secret", cfg.Scheme)
	case (needs || cfg.Secret != "") && secrets == nil:
		return nil, fmt.Errorf("verify.secret: no secret source to read %s from", cfg.Secret)
	}
	if err := checkHandshakes(cfg); err != nil {
		return nil, err
	}
	if err := checkRef(cfg.Secret); err != nil {
		return nil, fmt.Errorf("verify.secret: %w", err)
	}
	if err := checkRef(cfg.HandshakeSecret); err != nil {
		return nil, fmt.Errorf("verify.handshake_secret: %w", err)
	}
	if _, open := s.(noneScheme); open {
		if err := checkOpenAllowlist(cfg); err != nil {
			return nil, err
		}
		v.logger.Warn("source accepts unsigned requests from its allow_cidrs", "source", source, "scheme", cfg.Scheme)
	}
	return v, nil
}

// checkOpenAllowlist refuses a scheme that verifies nothing ("none", and
// presets of providers that sign nothing) unless verify.allow_cidrs
// narrows who may call it: without one, the source is a write endpoint
// open to anyone who learns its URL. A range of every address (0.0.0.0/0,
// ::/0) narrows nothing and is refused too; the ranges' syntax is the
// allowlist parser's to check.
func checkOpenAllowlist(cfg Config) error {
	if len(cfg.AllowCIDRs) == 0 {
		return fmt.Errorf("verify.allow_cidrs: missing: verify.scheme %q verifies nothing, so only the sender's published address ranges protect the source", cfg.Scheme)
	}
	for _, c := range cfg.AllowCIDRs {
		if p, err := netip.ParsePrefix(strings.TrimSpace(c)); err == nil && p.Bits() == 0 {
			return fmt.Errorf("verify.allow_cidrs: %q admits every address, and verify.scheme %q verifies nothing: list the sender's published ranges", c, cfg.Scheme)
		}
	}
	return nil
}

// Verify checks r, whose body has been read into body, and returns what
// the provider's headers say about the event.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (Identity, error) {
	var keys []key
	if v.scheme.needsSecret() {
		var err error
		if keys, err = v.keys(ctx, v.cfg.Secret); err != nil {
			return Identity{}, err
		}
	}
	in := &input{ctx: ctx, r: r, body: body, now: v.now(), tolerance: v.tolerance}
	id, err := v.scheme.verify(in, keys)
	switch {
	case err == ErrBadSignature:
		// How many keys were tried tells a rotation mid-way (two) from a
		// wrong secret (one); which key is never said.
		return Identity{}, fmt.Errorf("%s: %w: no key of %d matched", v.cfg.Scheme, err, len(keys))
	case err != nil:
		return Identity{}, fmt.Errorf("%s: %w", v.cfg.Scheme, err)
	}
	return id, nil
}

// Keys returns the source's secret keys, one per line of its secret
// (public keys, which sign nothing, are left out).
func (v *Verifier) Keys(ctx context.Context) ([][]byte, error) {
	if v.cfg.Secret == "" {
		return nil, nil
	}
	keys, err := v.keys(ctx, v.cfg.Secret)
	return secretBytes(keys), err
}

// HandshakeKeys returns the keys that ownership handshakes are checked
// with: the handshake secret's when the source has one (Meta's verify token
// is not its app secret), the signing keys otherwise.
func (v *Verifier) HandshakeKeys(ctx context.Context) ([][]byte, error) {
	if v.cfg.HandshakeSecret != "" {
		keys, err := v.keys(ctx, v.cfg.HandshakeSecret)
		return secretBytes(keys), err
	}
	return v.Keys(ctx)
}

// keys reads ref and decodes its entries with the scheme's key format.
// The handshake secret's lines are tokens compared as they are.
func (v *Verifier) keys(ctx context.Context, ref string) ([]key, error) {
	raw, err := v.secrets.Secret(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSecretUnavailable, ref, err)
	}
	v.mu.Lock()
	p, ok := v.parsed[ref]
	v.mu.Unlock()
	if ok && bytes.Equal(p.raw, raw) {
		return p.keys, nil
	}
	var keys []key
	for i, entry := range secretEntries(raw) {
		var k key
		if ref == v.cfg.HandshakeSecret && ref != v.cfg.Secret {
			k, err = key{secret: entry}, nil
		} else {
			k, err = v.scheme.decodeKey(entry)
		}
		if err != nil {
			// The key's text stays out of the log: only its position.
			v.logger.Warn("secret key does not decode or is too weak; skipped", "source", v.source, "secret", ref, "entry", i+1, "error", err.Error())
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s holds no usable key", ErrSecretUnavailable, ref)
	}
	v.mu.Lock()
	v.parsed[ref] = parsedKeys{raw: bytes.Clone(raw), keys: keys}
	v.mu.Unlock()
	return keys, nil
}

// input is one request as the schemes see it.
type input struct {
	ctx       context.Context
	r         *http.Request
	body      []byte
	now       time.Time
	tolerance time.Duration
}

// header returns the named header (canonical name) or ErrMissingHeader;
// a repeated one is ErrMalformedHeader: which copy a proxy puts first must
// not decide the answer.
func (in *input) header(name string) (string, error) {
	v, err := in.optionalHeader(name)
	if err == nil && v == "" {
		err = fmt.Errorf("%w: %s", ErrMissingHeader, name)
	}
	return v, err
}

// optionalHeader is header for a header that may be absent ("").
func (in *input) optionalHeader(name string) (string, error) {
	vs := in.r.Header[name]
	if vs == nil {
		vs = in.r.Header.Values(name)
	}
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", fmt.Errorf("%w: %s is repeated", ErrMalformedHeader, name)
}

// firstHeader returns the first of the named headers that is present
// (Standard Webhooks' webhook-* or svix-*), ErrMissingHeader naming the
// first when none is.
func (in *input) firstHeader(names ...string) (string, error) {
	for _, n := range names {
		v, err := in.optionalHeader(n)
		if err != nil || v != "" {
			return v, err
		}
	}
	return "", fmt.Errorf("%w: %s", ErrMissingHeader, names[0])
}

// fresh checks a signed timestamp against the tolerance, both ways.
func (in *input) fresh(t time.Time) error {
	switch d := in.now.Sub(t); {
	case d > in.tolerance:
		return fmt.Errorf("%w: signed %s ago, tolerance %s", ErrTooOld, d.Round(time.Second), in.tolerance)
	case d < -in.tolerance:
		return fmt.Errorf("%w: signed %s ahead, tolerance %s", ErrTooNew, (-d).Round(time.Second), in.tolerance)
	}
	return nil
}

// WithHTTPClient sets the client that fetches keys: Google's token signing
// keys for the oidc scheme, the signing certificates of the fetched-key
// families (SNS, PayPal). Tests give it a transport that answers for the
// providers' real host names; the host checks stay in force.
func WithHTTPClient(c *http.Client) Option {
	return func(v *Verifier) {
		if f, ok := v.scheme.(fetching); ok && c != nil {
			f.useClient(c)
		}
	}
}
