package pipeline

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// memoryWriter stands in for BigQuery in the overhead benchmark: it keeps
// the last rows in a ring, so the work left is the pipeline's own.
type memoryWriter struct {
	mu   sync.Mutex
	ring [1024][]byte
	n    int
}

func (m *memoryWriter) Handle(_ context.Context, ev *event.Event) (pattern.Outcome, error) {
	m.mu.Lock()
	m.ring[m.n%len(m.ring)] = ev.Payload
	m.n++
	m.mu.Unlock()
	return pattern.Outcome{Result: "stored"}, nil
}

// BenchmarkOverhead puts the whole pipeline (source routing, body limit,
// GitHub verification, envelope, pattern call, JSON reply, log line) beside
// a bare net/http handler that only reads the body, checks the same HMAC
// and answers 200, on a 1 KiB push at 80 concurrent requests. The README
// records the ratio of the two (goal: pipeline ≥ 0.85 of bare):
//
//	go test ./shared/pipeline -run '^$' -bench Overhead -benchmem
func BenchmarkOverhead(b *testing.B) {
	body := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 1000) + `"}`
	fn := &config.Function{Sources: []config.Source{githubSource}}
	h, err := New(context.Background(), fn, memSecrets{"env:GITHUB": githubKey},
		func(context.Context, config.Source) (pattern.Pattern, error) { return &memoryWriter{}, nil },
		Options{Logger: logging.New(io.Discard, slog.LevelInfo)})
	if err != nil {
		b.Fatal(err)
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := io.ReadAll(http.MaxBytesReader(w, r.Body, DefaultMaxBodyBytes))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		m := hmac.New(sha256.New, []byte(githubKey))
		m.Write(got)
		sig, _ := hex.DecodeString(strings.TrimPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256="))
		if !hmac.Equal(m.Sum(nil), sig) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	// Signed once: GitHub signs no timestamp, and signing is the sender's
	// cost, not the receiver's.
	signedReq := httptest.NewRequest(http.MethodPost, "/github", nil)
	if err := verify.Sign(githubSource.Verify, []byte(githubKey), time.Now(), signedReq, []byte(body)); err != nil {
		b.Fatal(err)
	}
	sig := signedReq.Header.Get("X-Hub-Signature-256")
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"pipeline", h}, {"bare-hmac", bare}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(40) // 40 × GOMAXPROCS(2) = Cloud Run's 80 concurrent requests
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodPost, "/github", strings.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					r.Header.Set("X-GitHub-Event", "push")
					r.Header.Set("X-GitHub-Delivery", "d-1")
					r.Header.Set("X-Hub-Signature-256", sig)
					w := httptest.NewRecorder()
					c.h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Errorf("status %d: %s", w.Code, w.Body)
						return
					}
				}
			})
		})
	}
}
