package secrets_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/secrets/secretstest"
	"google.golang.org/grpc/codes"
)

const project = "test-project"

// clock is a test clock that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// setup starts a fake Secret Manager and a Resolver reading it with a test
// clock, a TTL of 1m and a MaxStale of 10m.
func setup(t *testing.T) (*secretstest.Server, *secrets.Resolver, *clock) {
	t.Helper()
	srv := secretstest.Start(t)
	clk := newClock()
	r := secrets.NewResolver(secrets.Options{
		Project:  project,
		Client:   srv.Client(t),
		TTL:      time.Minute,
		MaxStale: 10 * time.Minute,
		Now:      clk.Now,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(func() { r.Close() })
	return srv, r, clk
}

// mustSecret reads ref and fails the test on an error.
func mustSecret(t *testing.T, r *secrets.Resolver, ref string) string {
	t.Helper()
	v, err := r.Secret(context.Background(), ref)
	if err != nil {
		t.Fatalf("Secret(%q): %v", ref, err)
	}
	return string(v)
}

func TestSecretReadsSecretManagerRefs(t *testing.T) {
	srv, r, _ := setup(t)
	srv.Add(project, "github", []byte("v1"))
	srv.Add(project, "github", []byte("v2\nv1\n"))
	srv.Add("other", "stripe", []byte("whsec"))
	tests := []struct{ ref, want string }{
		{"sm:github", "v2\nv1\n"},
		{"sm:github@latest", "v2\nv1\n"},
		{"sm:github@1", "v1"},
		{"projects/" + project + "/secrets/github/versions/1", "v1"},
		{"projects/other/secrets/stripe", "whsec"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if got := mustSecret(t, r, tt.ref); got != tt.want {
				t.Errorf("Secret(%q) = %q, want %q", tt.ref, got, tt.want)
			}
		})
	}
}

func TestSecretUsesGoogleCloudProjectWhenNoProjectIsSet(t *testing.T) {
	srv := secretstest.Start(t)
	srv.Add("env-project", "s", []byte("from env project"))
	r := secrets.NewResolver(secrets.Options{
		Client: srv.Client(t),
		Getenv: func(k string) (string, bool) {
			if k == "GOOGLE_CLOUD_PROJECT" {
				return "env-project", true
			}
			return "", false
		},
	})
	if got := mustSecret(t, r, "sm:s"); got != "from env project" {
		t.Errorf("Secret = %q, want the value in GOOGLE_CLOUD_PROJECT's project", got)
	}
}

func TestCacheHitMakesNoRPC(t *testing.T) {
	srv, r, clk := setup(t)
	srv.Add(project, "s", []byte("value"))
	mustSecret(t, r, "sm:s")
	clk.Advance(47 * time.Second) // under 80% of the TTL
	for range 5 {
		mustSecret(t, r, "sm:s")
	}
	if n := srv.Calls(); n != 1 {
		t.Errorf("AccessSecretVersion calls = %d, want 1", n)
	}
}

func TestReturnedValueIsACopy(t *testing.T) {
	srv, r, _ := setup(t)
	srv.Add(project, "s", []byte("value"))
	v, err := r.Secret(context.Background(), "sm:s")
	if err != nil {
		t.Fatal(err)
	}
	copy(v, "XXXXX")
	if got := mustSecret(t, r, "sm:s"); got != "value" {
		t.Errorf("after the caller modified its slice the cache holds %q", got)
	}
}

// waitForValue reads ref until a background refresh has delivered want.
func waitForValue(t *testing.T, r *secrets.Resolver, ref, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for mustSecret(t, r, ref) != want {
		if time.Now().After(deadline) {
			t.Fatalf("the background refresh never delivered %q", want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRefreshServesCachedValueThenNew(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
	}{
		{"past 80% of the TTL, before expiry", 50 * time.Second},
		{"past the TTL", time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, r, clk := setup(t)
			srv.Add(project, "s", []byte("old"))
			mustSecret(t, r, "sm:s")
			srv.Add(project, "s", []byte("new"))
			clk.Advance(tt.advance)
			if got := mustSecret(t, r, "sm:s"); got != "old" {
				t.Fatalf("first Secret = %q, want the cached value (the refresh runs in the background)", got)
			}
			// The refresh lands without the clock moving.
			waitForValue(t, r, "sm:s", "new")
			if n := srv.Calls(); n != 2 {
				t.Errorf("AccessSecretVersion calls = %d, want 2 (one refresh at a time)", n)
			}
		})
	}
}

func TestConcurrentFirstCallsMakeOneRPC(t *testing.T) {
	srv, r, _ := setup(t)
	srv.Add(project, "s", []byte("value"))
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			<-start
			v, err := r.Secret(context.Background(), "sm:s")
			if err == nil && string(v) != "value" {
				err = errors.New("wrong value")
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Calls(); n != 1 {
		t.Errorf("AccessSecretVersion calls = %d, want 1", n)
	}
}

func TestOutageServesLastGoodValueUntilMaxStale(t *testing.T) {
	srv, r, clk := setup(t)
	const value = "hunter2-signing-key"
	srv.Add(project, "s", []byte(value))
	mustSecret(t, r, "sm:s")
	srv.Fail(codes.Unavailable)

	clk.Advance(2 * time.Minute) // expired
	if got := mustSecret(t, r, "sm:s"); got != value {
		t.Fatalf("Secret during an outage = %q, want the last good value", got)
	}
	calls := srv.Calls()
	clk.Advance(time.Second) // within the retry backoff (TTL/10)
	mustSecret(t, r, "sm:s")
	if n := srv.Calls(); n != calls {
		t.Errorf("a call within the backoff made %d RPCs, want 0", n-calls)
	}

	clk.Advance(8 * time.Minute) // 10m01s after the fetch: past MaxStale
	_, err := r.Secret(context.Background(), "sm:s")
	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Secret past MaxStale: error = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), value) {
		t.Errorf("error %q holds the secret value", err)
	}

	srv.Heal()
	if got := mustSecret(t, r, "sm:s"); got != value {
		t.Errorf("Secret after the outage = %q, want %q", got, value)
	}
}

func TestFailuresWrapErrUnavailable(t *testing.T) {
	const value = "hunter2-signing-key"
	tests := []struct {
		name string
		ref  string
		fail codes.Code
	}{
		{name: "unknown secret is NOT_FOUND", ref: "sm:missing"},
		{name: "unknown version is NOT_FOUND", ref: "sm:s@9"},
		{name: "permission denied", ref: "sm:s", fail: codes.PermissionDenied},
		{name: "outage with nothing cached", ref: "sm:s", fail: codes.Unavailable},
		{name: "unset environment variable", ref: "env:WEBHOOKS_TEST_UNSET"},
		{name: "missing file", ref: "file:" + filepath.Join(t.TempDir(), "absent")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, r, _ := setup(t)
			srv.Add(project, "s", []byte(value))
			srv.Fail(tt.fail)
			_, err := r.Secret(context.Background(), tt.ref)
			if !errors.Is(err, secrets.ErrUnavailable) {
				t.Fatalf("error = %v, want ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), tt.ref) {
				t.Errorf("error %q does not name the reference", err)
			}
			if strings.Contains(err.Error(), value) {
				t.Errorf("error %q holds the secret value", err)
			}
		})
	}
}

func TestBadRefWrapsErrBadRef(t *testing.T) {
	_, r, _ := setup(t)
	_, err := r.Secret(context.Background(), "sm:no/slashes")
	if !errors.Is(err, secrets.ErrBadRef) {
		t.Fatalf("error = %v, want ErrBadRef", err)
	}
}

func TestLocalEnvAndFileRefs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "github"), []byte("local\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mounted := filepath.Join(dir, "mounted")
	if err := os.WriteFile(mounted, []byte("from file"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := secretstest.Start(t)
	r := secrets.NewResolver(secrets.Options{
		LocalDir: dir,
		Client:   srv.Client(t), // must not be called: LocalDir replaces Secret Manager
		Getenv: func(k string) (string, bool) {
			if k == "STRIPE_SECRET" {
				return "from env", true
			}
			return "", false
		},
	})
	tests := []struct{ name, ref, want string }{
		{"sm ref reads LocalDir/<secret id>", "sm:github", "local\n"},
		{"resource name reads LocalDir/<secret id>", "projects/p/secrets/github/versions/3", "local\n"},
		{"env ref reads the variable", "env:STRIPE_SECRET", "from env"},
		{"file ref reads the file", "file:" + mounted, "from file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustSecret(t, r, tt.ref); got != tt.want {
				t.Errorf("Secret(%q) = %q, want %q", tt.ref, got, tt.want)
			}
		})
	}
	if n := srv.Calls(); n != 0 {
		t.Errorf("AccessSecretVersion calls = %d, want 0 with LocalDir", n)
	}
	_, err := r.Secret(context.Background(), "sm:absent")
	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Errorf("missing LocalDir file: error = %v, want ErrUnavailable", err)
	}
}

func TestFileRefIsCachedForTTL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	r := secrets.NewResolver(secrets.Options{TTL: time.Minute, Now: clk.Now})
	mustSecret(t, r, "file:"+path)
	if err := os.WriteFile(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := mustSecret(t, r, "file:"+path); got != "one" {
		t.Errorf("within the TTL Secret = %q, want the cached %q", got, "one")
	}
	clk.Advance(time.Minute)
	waitForValue(t, r, "file:"+path, "two")
}

func BenchmarkSecretCached(b *testing.B) {
	srv := secretstest.Start(b)
	srv.Add(project, "s", []byte("whsec_0123456789abcdef0123456789abcdef"))
	r := secrets.NewResolver(secrets.Options{Project: project, Client: srv.Client(b)})
	ctx := context.Background()
	if _, err := r.Secret(ctx, "sm:s"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Secret(ctx, "sm:s"); err != nil {
			b.Fatal(err)
		}
	}
}

// outageSetup starts a fake Secret Manager and a Resolver that creates its
// own client from the fake's ClientOptions, so that the Resolver's call
// settings (retries, timeouts) are the ones under test. timeout is the
// Resolver's Timeout (0: the default).
func outageSetup(t *testing.T, timeout time.Duration) (*secretstest.Server, *secrets.Resolver, *clock) {
	t.Helper()
	srv := secretstest.Start(t)
	clk := newClock()
	r := secrets.NewResolver(secrets.Options{
		Project:       project,
		ClientOptions: srv.ClientOptions(),
		TTL:           time.Minute,
		MaxStale:      10 * time.Minute,
		Timeout:       timeout,
		Now:           clk.Now,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(func() { r.Close() })
	return srv, r, clk
}

// outages are the ways Secret Manager fails that a request must not wait
// on: it accepts the call and never answers, or nothing answers at all.
var outages = []struct {
	name  string
	start func(*secretstest.Server) (end func())
}{
	{"hanging", func(s *secretstest.Server) func() { return s.Hang() }},
	{"unreachable", func(s *secretstest.Server) func() { s.Stop(); return func() {} }},
}

// secretResult is what one Resolver.Secret call returned.
type secretResult struct {
	value []byte
	err   error
}

// secretAsync calls Secret in its own goroutine, so that a test can tell a
// call that returns from one that waits.
func secretAsync(r *secrets.Resolver, ref string) <-chan secretResult {
	ch := make(chan secretResult, 1)
	go func() {
		v, err := r.Secret(context.Background(), ref)
		ch <- secretResult{v, err}
	}()
	return ch
}

func TestAWarmCacheAnswersWithoutWaitingForSecretManagerDuringAnOutage(t *testing.T) {
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			// A Timeout of an hour: an implementation that waited for Secret
			// Manager before serving the cached value would still be waiting
			// when the guard below fires, long after a correct one answered.
			srv, r, clk := outageSetup(t, time.Hour)
			srv.Add(project, "s", []byte("cached"))
			mustSecret(t, r, "sm:s")
			t.Cleanup(o.start(srv))
			clk.Advance(2 * time.Minute) // past the TTL, within MaxStale

			select {
			case res := <-secretAsync(r, "sm:s"):
				if res.err != nil || string(res.value) != "cached" {
					t.Fatalf("Secret = %q, %v; want the cached value", res.value, res.err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Secret waited on Secret Manager although a usable value was cached")
			}
		})
	}
}

func TestAnExpiredValueIsRefreshedInTheBackgroundOneFetchAtATime(t *testing.T) {
	srv, r, clk := outageSetup(t, time.Hour)
	srv.Add(project, "s", []byte("old"))
	mustSecret(t, r, "sm:s")
	release := srv.Hang()
	t.Cleanup(release)
	srv.Add(project, "s", []byte("new"))
	clk.Advance(2 * time.Minute) // past the TTL

	for range 20 {
		select {
		case res := <-secretAsync(r, "sm:s"):
			if string(res.value) != "old" {
				t.Fatalf("Secret while the refresh hangs = %q, %v; want the cached value", res.value, res.err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Secret waited on Secret Manager although a usable value was cached")
		}
	}
	// The first of those calls started a refresh, which is now blocked in
	// the fake; the others started none.
	for deadline := time.Now().Add(10 * time.Second); srv.Calls() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no background refresh reached Secret Manager")
		}
	}
	mustSecret(t, r, "sm:s")
	if n := srv.Calls(); n != 2 {
		t.Fatalf("AccessSecretVersion calls = %d, want 2 (the first read and one refresh)", n)
	}

	release()
	deadline := time.Now().Add(10 * time.Second)
	for mustSecret(t, r, "sm:s") != "new" {
		if time.Now().After(deadline) {
			t.Fatal("the background refresh never delivered the new version")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAColdRequestGivesUpWithinTheBoundDuringAnOutage(t *testing.T) {
	// The default bound is 2s; 6s is loose enough for a loaded machine and
	// still under REQUEST_DEADLINE (8s), which the library's own retries
	// (10s and more) exceed.
	const guard = 6 * time.Second
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			srv, r, _ := outageSetup(t, 0)
			srv.Add(project, "s", []byte("never read"))
			t.Cleanup(o.start(srv))
			select {
			case res := <-secretAsync(r, "sm:s"):
				if !errors.Is(res.err, secrets.ErrUnavailable) {
					t.Fatalf("Secret = %q, %v; want ErrUnavailable", res.value, res.err)
				}
			case <-time.After(guard):
				t.Fatalf("a request with nothing cached waited more than %s on Secret Manager", guard)
			}
		})
	}
}
