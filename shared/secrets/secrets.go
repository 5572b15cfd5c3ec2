// Package secrets reads webhook signing secrets by reference, from Google
// Secret Manager, environment variables or files, and caches them so that a
// request rarely waits for Secret Manager.
//
// Configuration names secrets by reference; package verify resolves them
// through a *Resolver (its SecretSource):
//
//	r := secrets.FromEnv()
//	defer r.Close()
//	key, err := r.Secret(ctx, "sm:github-webhook-secret")
//
// # Reference grammar
//
//	sm:NAME                           latest version of secret NAME in the default project
//	sm:NAME@VERSION                   version VERSION (a number, or latest)
//	projects/P/secrets/S/versions/V   full resource name (V a number or latest)
//	projects/P/secrets/S              full resource name, latest version
//	env:NAME                          environment variable NAME
//	file:PATH                         contents of file PATH (a secret mounted as a volume)
//
// Secret ids are validated as Secret Manager does: 1-255 letters, digits,
// '-' and '_'. The default project is Options.Project, else
// GOOGLE_CLOUD_PROJECT, else the metadata server's (on Cloud Run). With
// Options.LocalDir (WEBHOOKS_SECRETS_DIR) set, sm and projects/ refs are
// read from the file LocalDir/<secret id> instead, for local runs without
// Google Cloud. ParseRef checks a reference at start-up; its errors wrap
// ErrBadRef.
//
// # Caching and failures
//
// Every reference, env and file ones included, is cached for Options.TTL
// (5 minutes). No call waits for a fetch while a usable value is cached: after
// 80% of the TTL, and past the TTL too, a call answers from the cache and
// starts a background refresh (one at a time per reference), until
// Options.MaxStale (1 hour) has passed since the value was fetched. After a
// failed fetch, fetches are retried at most every TTL/10. Only a call with
// nothing usable cached waits, and for at most Options.Timeout (2 s): the
// client's retries and timeouts are set for that bound, not left at the
// library's (which retry for a minute). Concurrent misses for one reference
// share a single fetch. Errors of Resolver.Secret at run time wrap
// ErrUnavailable, NOT_FOUND and PERMISSION_DENIED included: the pipeline
// answers 503, the operator fixes the secret or its IAM binding, and the
// provider's retry succeeds. Errors name the reference, never the value.
//
// Values are returned as stored, trailing newline included; a value holding
// several lines is several keys during a rotation, which the caller splits.
package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/compute/metadata"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2"
	"golang.org/x/sync/singleflight"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
)

var (
	// ErrBadRef means a reference does not parse: a configuration error,
	// found at start-up by ParseRef.
	ErrBadRef = errors.New("secrets: bad reference")
	// ErrUnavailable means a secret could not be read now and no cached
	// value may stand in for it. The pipeline answers 503 so that the
	// provider retries.
	ErrUnavailable = errors.New("secrets: unavailable")
)

// Defaults of the Options durations.
const (
	DefaultTTL      = 5 * time.Minute
	DefaultMaxStale = time.Hour
	// DefaultTimeout is well under the pipeline's 8 s REQUEST_DEADLINE, so
	// that a request with nothing cached still gets its 503 in time.
	DefaultTimeout = 2 * time.Second
)

// Options configure a Resolver. The zero value reads Secret Manager in the
// project of the environment with the defaults above.
type Options struct {
	// Project is the default project of sm:NAME refs. When empty,
	// GOOGLE_CLOUD_PROJECT (through Getenv), then the metadata server.
	Project string
	// LocalDir, when set, makes sm and projects/ refs read the file
	// LocalDir/<secret id> (local runs without Google Cloud). Env and file
	// refs are unchanged.
	LocalDir string
	// Client is the Secret Manager client to use; the Resolver does not
	// close it. When nil, one is created with default credentials and
	// ClientOptions on the first Secret Manager read, and closed by Close.
	Client *secretmanager.Client
	// ClientOptions are passed to secretmanager.NewClient when Client is nil.
	ClientOptions []option.ClientOption
	// TTL is how long a value is served from the cache; DefaultTTL when 0.
	TTL time.Duration
	// MaxStale is how long after it was fetched the last good value is
	// still served while fetches fail; DefaultMaxStale when 0.
	MaxStale time.Duration
	// Timeout bounds one fetch, the client's own retries included, and so
	// how long a call with nothing usable cached waits; DefaultTimeout when
	// 0. A client created by the Resolver retries UNAVAILABLE within it.
	Timeout time.Duration
	// Getenv reads env: refs and GOOGLE_CLOUD_PROJECT; os.LookupEnv when nil.
	Getenv func(string) (string, bool)
	// Now is the clock, for tests; time.Now when nil.
	Now func() time.Time
	// Logger records fetch failures that a cached value covers (the
	// failure is otherwise invisible); slog.Default() when nil. Secret
	// values are never logged.
	Logger *slog.Logger
}

// Resolver reads secrets by reference and caches them. It is safe for
// concurrent use; one Resolver per process lets every function share the
// cache and the client.
type Resolver struct {
	opts      Options
	refreshAt time.Duration // age after which a hit starts a background refresh
	backoff   time.Duration // least time between fetches after a failure

	group singleflight.Group

	mu    sync.Mutex
	cache map[string]*entry // by reference as written

	clientMu  sync.Mutex
	client    *secretmanager.Client
	ownClient bool // created here, so closed by Close
	project   string
}

// entry is a cached value; it is replaced, never mutated, when a fetch
// succeeds, so value may be read without the lock once taken.
type entry struct {
	value      []byte
	fetched    time.Time
	refreshing bool      // a background refresh is running
	retryAt    time.Time // no fetch before this after a failure
}

var _ interface {
	Secret(context.Context, string) ([]byte, error)
} = (*Resolver)(nil)

// NewResolver returns a Resolver with opts, defaults filled in. It does no
// I/O: clients and the default project are found on first use.
func NewResolver(opts Options) *Resolver {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxStale <= 0 {
		opts.MaxStale = DefaultMaxStale
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Getenv == nil {
		opts.Getenv = os.LookupEnv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Resolver{
		opts:      opts,
		refreshAt: opts.TTL * 4 / 5,
		backoff:   opts.TTL / 10,
		cache:     map[string]*entry{},
		client:    opts.Client,
		project:   opts.Project,
	}
}

// process is the Resolver of Process.
var process = sync.OnceValue(FromEnv)

// Process returns the process's one Resolver, made by FromEnv on first
// use. Every function and action of a process reads through it, so they
// share one cache and one Secret Manager connection.
func Process() *Resolver { return process() }

// Variables read by FromEnv.
const (
	// EnvLocalDir sets Options.LocalDir: the local runner's folder of
	// development keys.
	EnvLocalDir = "WEBHOOKS_SECRETS_DIR"
	// EnvTTL sets Options.TTL (a Go duration such as 10m).
	EnvTTL = "SECRETS_TTL"
	// EnvTimeout sets Options.Timeout (a Go duration).
	EnvTimeout = "SECRETS_TIMEOUT"
)

// FromEnv returns a Resolver configured by the environment:
// GOOGLE_CLOUD_PROJECT (or GCP_PROJECT) is the default project,
// WEBHOOKS_SECRETS_DIR the LocalDir, SECRETS_TTL the TTL and
// SECRETS_TIMEOUT the Timeout. An unparsable duration is logged and the
// default used here; the functions' start-up refuses it
// (pipeline.OptionsFromEnv).
func FromEnv() *Resolver {
	opts := Options{
		Project:  os.Getenv("GOOGLE_CLOUD_PROJECT"),
		LocalDir: os.Getenv(EnvLocalDir),
		TTL:      envDuration(EnvTTL, DefaultTTL),
		Timeout:  envDuration(EnvTimeout, DefaultTimeout),
	}
	if opts.Project == "" {
		opts.Project = os.Getenv("GCP_PROJECT")
	}
	return NewResolver(opts)
}

// envDuration reads the variable name as a positive Go duration, or def.
func envDuration(name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		slog.Default().Warn(name+" is not a positive Go duration; using the default", name, s, "default", def.String())
		return def
	}
	return d
}

// Secret returns the value of the secret that ref names, from the cache
// when it holds a usable value (younger than MaxStale), refreshing it in the
// background past 80% of the TTL. The returned slice is a copy the caller
// may modify. An unparsable ref gives an error wrapping ErrBadRef; every
// other failure wraps ErrUnavailable.
func (r *Resolver) Secret(ctx context.Context, ref string) ([]byte, error) {
	now := r.opts.Now()
	r.mu.Lock()
	if e, ok := r.cache[ref]; ok {
		if age := now.Sub(e.fetched); age < r.opts.MaxStale {
			// Past the TTL too: the request answers with the value it has
			// rather than wait on Secret Manager, which may be down.
			if age >= r.refreshAt && !e.refreshing && !now.Before(e.retryAt) {
				e.refreshing = true
				go r.refresh(ctx, ref, e)
			}
			r.mu.Unlock()
			return bytes.Clone(e.value), nil
		}
	}
	r.mu.Unlock()
	return r.load(ctx, ref)
}

// refresh fetches ref in the background on behalf of a cache hit.
func (r *Resolver) refresh(ctx context.Context, ref string, e *entry) {
	r.group.Do(ref, func() (any, error) { return r.fetch(ctx, ref) }) //nolint:errcheck // fetch records the outcome in the cache.
	r.mu.Lock()
	e.refreshing = false
	r.mu.Unlock()
}

// load fetches ref for a caller that has no usable cached value, sharing
// the fetch with concurrent callers.
func (r *Resolver) load(ctx context.Context, ref string) ([]byte, error) {
	ch := r.group.DoChan(ref, func() (any, error) { return r.fetch(ctx, ref) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return bytes.Clone(res.Val.([]byte)), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, ref, ctx.Err())
	}
}

// fetch reads ref from its store and records the outcome in the cache. It
// runs once for all callers waiting on ref, so it is not cut short by the
// first caller's cancellation, only by Options.Timeout.
func (r *Resolver) fetch(ctx context.Context, ref string) ([]byte, error) {
	parsed, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.Timeout)
	defer cancel()
	value, err := r.read(ctx, parsed)
	now := r.opts.Now()
	if err == nil {
		r.mu.Lock()
		r.cache[ref] = &entry{value: value, fetched: now}
		r.mu.Unlock()
		return value, nil
	}
	err = fmt.Errorf("%w: %s: %w", ErrUnavailable, ref, err)
	r.mu.Lock()
	e, cached := r.cache[ref]
	if cached {
		e.retryAt = now.Add(r.backoff)
	}
	r.mu.Unlock()
	if cached && now.Sub(e.fetched) < r.opts.MaxStale {
		r.opts.Logger.WarnContext(ctx, "secret fetch failed; serving the last good value",
			"secret", ref, "age", now.Sub(e.fetched).Round(time.Second).String(), "error", err.Error())
	}
	return nil, err
}

// read reads the current value of ref from its store, uncached.
func (r *Resolver) read(ctx context.Context, ref Ref) ([]byte, error) {
	switch ref.Kind {
	case Env:
		v, ok := r.opts.Getenv(ref.Name)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", ref.Name)
		}
		return []byte(v), nil
	case File:
		return os.ReadFile(ref.Name)
	case SecretManager:
		if file := ref.LocalFile(r.opts.LocalDir); file != "" {
			return os.ReadFile(file)
		}
		return r.access(ctx, ref)
	}
	return nil, fmt.Errorf("reference of unknown kind %d", ref.Kind)
}

// access reads a Secret Manager secret version and checks its checksum.
func (r *Resolver) access(ctx context.Context, ref Ref) ([]byte, error) {
	client, project, err := r.clientFor(ctx, ref)
	if err != nil {
		return nil, err
	}
	resp, err := client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: ref.resource(project)})
	if err != nil {
		return nil, fmt.Errorf("secretmanager.AccessSecretVersion: %w", err)
	}
	data := resp.GetPayload().GetData()
	if sum := resp.GetPayload().DataCrc32C; sum != nil && int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))) != *sum {
		return nil, errors.New("secretmanager.AccessSecretVersion: payload checksum mismatch")
	}
	return data, nil
}

// accessCallOptions replace the library's AccessSecretVersion settings (a
// 60 s timeout, UNAVAILABLE retried after 2 s, 4 s, ...), which would hold a
// request past its deadline, with ones that fit in one fetch's timeout:
// UNAVAILABLE (an outage, a connection not yet up) retried quickly and often,
// the whole call bounded by timeout. Other codes are not retried: a missing
// secret or IAM binding needs the operator, and RESOURCE_EXHAUSTED (quota)
// does not clear within seconds.
func accessCallOptions(timeout time.Duration) []gax.CallOption {
	return []gax.CallOption{
		gax.WithTimeout(timeout),
		gax.WithRetry(func() gax.Retryer {
			return gax.OnCodes([]codes.Code{codes.Unavailable}, gax.Backoff{
				Initial:    50 * time.Millisecond,
				Max:        500 * time.Millisecond,
				Multiplier: 2,
			})
		}),
	}
}

// clientFor returns the Secret Manager client, creating it on first use,
// and the project of ref, finding the default project on first use. A
// failure is not remembered: the next fetch tries again.
func (r *Resolver) clientFor(ctx context.Context, ref Ref) (*secretmanager.Client, string, error) {
	r.clientMu.Lock()
	defer r.clientMu.Unlock()
	project := ref.Project
	if project == "" {
		if r.project == "" {
			p, err := r.defaultProject(ctx)
			if err != nil {
				return nil, "", err
			}
			r.project = p
		}
		project = r.project
	}
	if r.client == nil {
		// Background, not ctx: the client outlives this request.
		c, err := secretmanager.NewClient(context.Background(), r.opts.ClientOptions...)
		if err != nil {
			return nil, "", fmt.Errorf("secretmanager.NewClient: %w", err)
		}
		c.CallOptions.AccessSecretVersion = accessCallOptions(r.opts.Timeout)
		r.client, r.ownClient = c, true
	}
	return r.client, project, nil
}

// defaultProject finds the project of sm:NAME refs when Options.Project is
// empty: GOOGLE_CLOUD_PROJECT, then the metadata server.
func (r *Resolver) defaultProject(ctx context.Context) (string, error) {
	if p, ok := r.opts.Getenv("GOOGLE_CLOUD_PROJECT"); ok && p != "" {
		return p, nil
	}
	if !metadata.OnGCEWithContext(ctx) {
		return "", errors.New("no default project for sm: references: set GOOGLE_CLOUD_PROJECT")
	}
	p, err := metadata.ProjectIDWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("metadata.ProjectID: %w", err)
	}
	return p, nil
}

// Close closes the Secret Manager client if the Resolver created it. The
// cache stays readable; fetches after Close create a new client.
func (r *Resolver) Close() error {
	r.clientMu.Lock()
	defer r.clientMu.Unlock()
	if !r.ownClient || r.client == nil {
		return nil
	}
	err := r.client.Close()
	r.client, r.ownClient = nil, false
	if err != nil {
		return fmt.Errorf("secrets: close client: %w", err)
	}
	return nil
}
