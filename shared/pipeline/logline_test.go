package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// A refused request's log line says which function and source it reached
// and which check refused it, with what a developer needs to act (the
// header, how far the timestamp was off, how many keys were tried), and
// never the signature, the secret or the payload.
func TestARefusedRequestLogsTheCheckThatRefusedIt(t *testing.T) {
	const (
		stripeKey = "whsec_log-test-key-0123456789"
		payload   = `{"id":"evt_1","type":"payment_intent.succeeded","marker":"PAYLOAD-MARKER"}`
	)
	now := time.Unix(1_700_000_000, 0)
	fn := &config.Function{Sources: []config.Source{
		githubSource,
		{Name: "stripe", Verify: verify.Config{Scheme: "stripe", Secret: "env:STRIPE"}},
		{Name: "allow", Verify: verify.Config{Scheme: "none", AllowCIDRs: []string{"198.51.100.0/24"}}}, // httptest clients are 192.0.2.1
	}}
	var logs bytes.Buffer
	h, err := New(context.Background(), fn, memSecrets{"env:GITHUB": githubKey, "env:STRIPE": stripeKey},
		func(context.Context, config.Source) (pattern.Pattern, error) { return &recorder{}, nil },
		Options{Function: "Store", Logger: logging.New(&logs, slog.LevelInfo), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	stripe := func(at time.Time, key string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/stripe", strings.NewReader(payload))
		if err := verify.Sign(verify.Config{Scheme: "stripe"}, []byte(key), at, r, []byte(payload)); err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name                string
		req                 func() *http.Request
		source, check, want string
	}{
		{"no signature header", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/github", strings.NewReader(payload))
		}, "github", "missing_header", "missing header: X-Hub-Signature-256"},
		{"a header that is not a signature", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/github", strings.NewReader(payload))
			r.Header.Set("X-Hub-Signature-256", "sha1=abc")
			return r
		}, "github", "malformed_header", `X-Hub-Signature-256 does not start with "sha256="`},
		{"a signature under another key", func() *http.Request {
			return stripe(now, "whsec_someone-else-0123456789")
		}, "stripe", "signature", "no key of 1 matched"},
		{"a stale timestamp", func() *http.Request {
			return stripe(now.Add(-7*time.Minute), stripeKey)
		}, "stripe", "timestamp_tolerance", "signed 7m0s ago, tolerance 5m0s"},
		{"no source at the path", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/github/github", strings.NewReader(payload))
		}, "", "source", "unknown source"},
		{"an address outside the allowlist", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/allow", strings.NewReader(payload))
		}, "allow", "allow_cidrs", "client address not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := tt.req()
			sig := r.Header.Get("X-Hub-Signature-256") + r.Header.Get("Stripe-Signature")
			h.ServeHTTP(httptest.NewRecorder(), r)
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			if line["function"] != "Store" || line["source"] != tt.source || line["refused_by"] != tt.check {
				t.Errorf("log line %s: want function Store, source %s, refused_by %s", logs.String(), tt.source, tt.check)
			}
			if tt.source == "" && line["path"] != r.URL.Path {
				t.Errorf("log line %s: want the path of a request no source serves", logs.String())
			}
			if msg, _ := line["error"].(string); !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
			for _, secret := range []string{githubKey, stripeKey, "PAYLOAD-MARKER"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("log line holds %q: %s", secret, logs.String())
				}
			}
			if _, v1, ok := strings.Cut(sig, "v1="); ok && strings.Contains(logs.String(), v1) {
				t.Errorf("log line holds the signature: %s", logs.String())
			}
		})
	}
}
