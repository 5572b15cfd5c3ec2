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

func TestTTLExpiryPicksUpNewVersion(t *testing.T) {
	srv, r, clk := setup(t)
	srv.Add(project, "s", []byte("old"))
	mustSecret(t, r, "sm:s")
	srv.Add(project, "s", []byte("new"))
	clk.Advance(time.Minute)
	if got := mustSecret(t, r, "sm:s"); got != "new" {
		t.Errorf("Secret after the TTL = %q, want the new version", got)
	}
	if n := srv.Calls(); n != 2 {
		t.Errorf("AccessSecretVersion calls = %d, want 2", n)
	}
}

func TestRefreshAheadServesCachedValueThenNew(t *testing.T) {
	srv, r, clk := setup(t)
	srv.Add(project, "s", []byte("old"))
	mustSecret(t, r, "sm:s")
	srv.Add(project, "s", []byte("new"))
	clk.Advance(50 * time.Second) // past 80% of the TTL, before expiry
	if got := mustSecret(t, r, "sm:s"); got != "old" {
		t.Fatalf("first Secret past 80%% of the TTL = %q, want the cached value", got)
	}
	// The background refresh lands without the clock moving.
	deadline := time.Now().Add(10 * time.Second)
	for mustSecret(t, r, "sm:s") != "new" {
		if time.Now().After(deadline) {
			t.Fatal("the background refresh never delivered the new version")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.Calls(); n != 2 {
		t.Errorf("AccessSecretVersion calls = %d, want 2 (one refresh at a time)", n)
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
	if got := mustSecret(t, r, "file:"+path); got != "two" {
		t.Errorf("after the TTL Secret = %q, want %q", got, "two")
	}
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
