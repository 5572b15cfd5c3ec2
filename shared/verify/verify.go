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
	keys [][]byte
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
	if cfg.Scheme == SchemeNone {
		v.logger.Warn("source accepts unsigned requests (verify.scheme: none)", "source", source)
	}
	return v, nil
}

// Verify checks r, whose body has been read into body, and returns what
// the provider's headers say about the event.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (Identity, error) {
	var keys [][]byte
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

// Keys returns the source's keys, one per line of its secret.
func (v *Verifier) Keys(ctx context.Context) ([][]byte, error) {
	if v.cfg.Secret == "" {
		return nil, nil
	}
	return v.keys(ctx, v.cfg.Secret)
}

// HandshakeKeys returns the keys that ownership handshakes are checked
// with: the handshake secret's when the source has one (Meta's verify token
// is not its app secret), the signing keys otherwise.
func (v *Verifier) HandshakeKeys(ctx context.Context) ([][]byte, error) {
	if v.cfg.HandshakeSecret != "" {
		return v.keys(ctx, v.cfg.HandshakeSecret)
	}
	return v.Keys(ctx)
}

// keys reads ref and decodes its lines with the scheme's key format.
func (v *Verifier) keys(ctx context.Context, ref string) ([][]byte, error) {
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
	var keys [][]byte
	for i, line := range bytes.Split(raw, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		key, err := decodeKey(v.scheme, line)
		if err != nil {
			// The key's text stays out of the log: only its line number.
			v.logger.Warn("secret key does not decode; skipped", "source", v.source, "secret", ref, "line", i+1, "error", err.Error())
			continue
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s holds no usable key", ErrSecretUnavailable, ref)
	}
	v.mu.Lock()
	v.parsed[ref] = parsedKeys{raw: bytes.Clone(raw), keys: keys}
	v.mu.Unlock()
	return keys, nil
}

// decodeKey decodes one line of a secret with the scheme's key format and
// refuses a key of zero bytes ("whsec_" alone): an HMAC keyed with nothing
// is one that anyone can compute.
func decodeKey(s scheme, line []byte) ([]byte, error) {
	key, err := s.decodeKey(line)
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, errors.New("the key decodes to zero bytes")
	}
	return key, nil
}

// input is one request as the schemes see it.
type input struct {
	ctx       context.Context
	r         *http.Request
	body      []byte
	now       time.Time
	tolerance time.Duration
}

// header returns the named header or ErrMissingHeader.
func (in *input) header(name string) (string, error) {
	v := in.r.Header.Get(name)
	if v == "" {
		return "", fmt.Errorf("%w: %s", ErrMissingHeader, name)
	}
	return v, nil
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

// WithHTTPClient sets the client that fetches Google's token signing keys
// for the oidc scheme; tests point it at a local key server.
func WithHTTPClient(c *http.Client) Option {
	return func(v *Verifier) {
		if o, ok := v.scheme.(*oidcScheme); ok && c != nil {
			o.client = c
		}
	}
}
