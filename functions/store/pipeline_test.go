package store

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/pipeline/pipelinetest"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// envSecrets is an in-memory secret source: these tests prove what is
// stored, not how secrets are read (package secrets has its own tests).
type envSecrets map[string]string

func (m envSecrets) Secret(_ context.Context, ref string) ([]byte, error) {
	if v, ok := m[ref]; ok {
		return []byte(v), nil
	}
	return nil, errors.New("secret not found")
}

const githubKey = "store-pipeline-test-key"

// storeThroughPipeline serves src with the Store pattern on the local sink
// in dir, behind the shared pipeline, and returns a function that posts
// body to it and answers the status.
func storeThroughPipeline(t *testing.T, dir string, src config.Source) func(r *http.Request) int {
	t.Helper()
	sk := newLocalSink(dir)
	t.Cleanup(func() { _ = sk.close() })
	deliver := serveStore(t, sk, src, pipeline.Options{})
	return func(r *http.Request) int { return deliver(r).Code }
}

// serveStore serves src with the Store pattern on sk behind the shared
// pipeline, and returns a function that posts a request to it.
func serveStore(t *testing.T, sk sink, src config.Source, opts pipeline.Options) func(r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	opts.Logger = logging.New(io.Discard, slog.LevelError)
	h, err := pipeline.New(context.Background(), &config.Function{Sources: []config.Source{src}}, envSecrets{"env:KEY": githubKey},
		func(context.Context, config.Source) (pattern.Pattern, error) { return newPattern(sk), nil }, opts)
	if err != nil {
		t.Fatal(err)
	}
	return func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
}

// signedPush is a GitHub delivery of body, signed with githubKey.
func signedPush(t *testing.T, src config.Source, id, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/"+src.Name, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-GitHub-Event", "push")
	r.Header.Set("X-GitHub-Delivery", id)
	if err := verify.Sign(src.Verify, []byte(githubKey), time.Now(), r, []byte(body)); err != nil {
		t.Fatal(err)
	}
	return r
}

// A signed body with two readings (duplicate names, text that is not
// UTF-8, a number float64 cannot hold, nesting deeper than BigQuery
// stores) is refused with 400 and stores nothing: Relay and Trigger refuse
// the same bodies, so no row differs from what they act on.
func TestStoreRefusesBodiesWithTwoReadings(t *testing.T) {
	src := config.Source{Name: "github", Verify: verify.Config{Scheme: "github", Secret: "env:KEY"}}
	dir := t.TempDir()
	deliver := storeThroughPipeline(t, dir, src)
	if code := deliver(signedPush(t, src, "d-ok", `{"ref":"refs/heads/main"}`)); code != http.StatusOK {
		t.Fatalf("a plain push: status %d, want 200", code)
	}
	for _, body := range []string{
		`{"ref":"refs/heads/main","ref":"refs/heads/evil"}`,
		`{"head_commit":{"author":{"name":"a","name":"evil"}}}`,
		"{\"ref\":\"refs/heads/evil\xff\"}",
		`{"ref":"refs/heads/evil\udc00"}`,
		`{"ref":"refs/heads/evil","n":1e400}`,
		`{"ref":"refs/heads/evil","deep":` + strings.Repeat("[", 501) + strings.Repeat("]", 501) + `}`,
	} {
		if code := deliver(signedPush(t, src, "d-evil", body)); code != http.StatusBadRequest {
			t.Errorf("body %q: status %d, want 400", body, code)
		}
	}
	rows := readLocal(t, filepath.Join(dir, "store", "github.ndjson"))
	if len(rows) != 1 || rows[0].EventID != "d-ok" {
		t.Errorf("stored %d rows, want only d-ok", len(rows))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "store", "github.ndjson")); strings.Contains(string(b), "evil") {
		t.Errorf("a refused body was stored: %s", b)
	}
}

// A source whose token travels in the payload (verify.field) stores the
// payload without it: the table holds no secret.
func TestStoreKeepsNoTokenFromThePayload(t *testing.T) {
	src := config.Source{Name: "inbody", Verify: verify.Config{Scheme: "token", Secret: "env:KEY", Field: "auth.token"}}
	dir := t.TempDir()
	deliver := storeThroughPipeline(t, dir, src)
	body := `{"id":"evt_1","auth":{"token":"` + githubKey + `"},"amount":5}`
	r := httptest.NewRequest(http.MethodPost, "/inbody", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if code := deliver(r); code != http.StatusOK {
		t.Fatalf("status %d, want 200", code)
	}
	b, err := os.ReadFile(filepath.Join(dir, "store", "inbody.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), githubKey) {
		t.Errorf("the stored row holds the token")
	}
	if rows := readLocal(t, filepath.Join(dir, "store", "inbody.ndjson")); len(rows) != 1 || !jsonEqual(t, rows[0].Payload, []byte(`{"id":"evt_1","auth":{},"amount":5}`)) {
		t.Errorf("stored %d rows, want one with the payload minus its token", len(rows))
	}
}

// The reading battery (package pipelinetest): repeated signature and
// identity headers, identity headers that are not UTF-8, content
// encodings, top-level JSON shapes. Store answers each case with the
// status Relay and Trigger answer it with.
func TestStoreReadsARequestAsEveryFunctionDoes(t *testing.T) {
	sk := newLocalSink(t.TempDir())
	t.Cleanup(func() { _ = sk.close() })
	h, err := pipeline.New(context.Background(), &config.Function{Sources: []config.Source{pipelinetest.Source()}}, pipelinetest.Secrets,
		func(context.Context, config.Source) (pattern.Pattern, error) { return newPattern(sk), nil },
		pipeline.Options{Logger: logging.New(io.Discard, slog.LevelError)})
	if err != nil {
		t.Fatal(err)
	}
	pipelinetest.RunReadingBattery(t, h)
}
