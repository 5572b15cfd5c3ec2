package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPubSub()
	os.Exit(code)
}

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// memSecrets is an in-memory secret source for tests that prove signing,
// not secret reading (package secrets has its own tests).
type memSecrets map[string]string

func (m memSecrets) Secret(_ context.Context, ref string) ([]byte, error) {
	v, ok := m[ref]
	if !ok {
		return nil, errors.New("secret not found")
	}
	return []byte(v), nil
}

// testJobKey is the job key of tests; otherJobKey is another one, as an
// attacker without the real key would sign with.
var (
	testJobKey  = jobKey{ref: "sm:test-job-key", secrets: memSecrets{"sm:test-job-key": "test-job-key-0123456789abcdef0123456789abcdef"}}
	otherJobKey = jobKey{ref: "sm:other", secrets: memSecrets{"sm:other": "another-key-0123456789abcdef0123456789abcdef"}}
)

// testDeps returns deps for tests: claims in memory, the real HTTP client,
// actions recorded in a temporary folder, jobs on the in-process queue.
// Tests replace the fields they exercise.
func testDeps(t testing.TB) (*deps, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := newRecorder(filepath.Join(t.TempDir(), "trigger", "actions.ndjson"), log)
	d := &deps{
		log:         log,
		claims:      idempotency.NewMemory(time.Minute),
		http:        newHTTPClient(false),
		httpPrivate: newHTTPClient(true),
		topics:      rec,
		builds:      rec,
		now:         time.Now,
		jobKey:      testJobKey,
	}
	d.jobs = newLocalQueue(d, 2)
	return d, logs
}

// compileYAML compiles rulesYAML (the YAML list under `rules:`) as the
// rules of source "src".
func compileYAML(t testing.TB, rulesYAML string) (*source, error) {
	t.Helper()
	raw, err := yaml.YAMLToJSON([]byte(rulesYAML))
	if err != nil {
		t.Fatalf("rules YAML: %v", err)
	}
	return compileSource(config.Source{Name: "src", Rules: raw}, idempotency.DefaultLease)
}

// newTrigger compiles rulesYAML and returns its pattern with fixed deps.
func newTrigger(t testing.TB, rulesYAML string, d *deps) *trigger {
	t.Helper()
	src, err := compileYAML(t, rulesYAML)
	if err != nil {
		t.Fatalf("compile rules: %v", err)
	}
	return &trigger{src: src, deps: func(context.Context) (*deps, error) { return d, nil }}
}

// githubEvent returns the event of a sample payload from testdata.
func githubEvent(t testing.TB, typ, id string) *event.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "github-"+typ+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatal(err)
	}
	return &event.Event{
		Source: "src", ID: id, Type: typ, ReceivedAt: time.Now().UTC(),
		Headers: map[string]string{"X-GitHub-Event": typ, "X-GitHub-Delivery": id},
		Payload: compact.Bytes(),
	}
}

// wantStatus checks how the pipeline would answer Handle's result.
func wantStatus(t testing.TB, out pattern.Outcome, err error, status int, result string) {
	t.Helper()
	got := out.Status
	if got == 0 {
		got = 200
	}
	var re *pattern.RetryableError
	switch {
	case errors.As(err, &re):
		got = 503
	case errors.Is(err, pattern.ErrUnprocessable):
		got = 422
	case err != nil:
		got = 503
	}
	if got != status || (err == nil && out.Result != result) {
		t.Fatalf("Handle = (%+v, %v): answered %d, want %d %q", out, err, got, status, result)
	}
}
