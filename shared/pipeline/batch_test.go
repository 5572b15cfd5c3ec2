package pipeline

import (
	"context"
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

// SendGrid's Event Webhook posts a JSON array of events, signed once with
// ECDSA P-256: the pattern sees one event whose payload is the array, as
// the docs say, and an asymmetric preset verifies through the pipeline.
func TestBatchDeliveryReachesThePatternAsOneEvent(t *testing.T) {
	public, private, err := verify.DevKeys("sendgrid")
	if err != nil {
		t.Fatal(err)
	}
	src := config.Source{Name: "sendgrid", Verify: verify.Config{Scheme: "sendgrid", Secret: "env:SG"}}
	rec := &recorder{out: pattern.Outcome{Result: "stored"}}
	now := time.Unix(1_700_000_000, 0)
	h, err := New(context.Background(), &config.Function{Sources: []config.Source{src}}, memSecrets{"env:SG": public},
		func(context.Context, config.Source) (pattern.Pattern, error) { return rec, nil },
		Options{Logger: logging.New(&strings.Builder{}, slog.LevelInfo), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	body := `[{"email":"a@example.com","event":"delivered","sg_event_id":"e1"},{"email":"b@example.com","event":"open","sg_event_id":"e2"}]`
	deliver := func(key string) int {
		r := httptest.NewRequest(http.MethodPost, "/sendgrid", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if err := verify.Sign(src.Verify, []byte(key), now, r, []byte(body)); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := deliver(private); code != http.StatusOK {
		t.Fatalf("signed batch: status %d, want 200", code)
	}
	if len(rec.events) != 1 || string(rec.events[0].Payload) != body {
		t.Fatalf("the pattern saw %d events; want one whose payload is the batch", len(rec.events))
	}
	_, other, err := verify.DevKeys("sendgrid")
	if err != nil {
		t.Fatal(err)
	}
	if code := deliver(other); code != http.StatusUnauthorized {
		t.Fatalf("batch signed by another key: status %d, want 401", code)
	}
	if len(rec.events) != 1 {
		t.Fatal("a forged batch reached the pattern")
	}
}

// Okta's one-time verification is a GET carrying the hook's token: it is
// answered only once the token verified, and a verified GET that is not
// the handshake is still 405.
func TestOktaVerificationIsAnsweredOnlyWithTheHooksToken(t *testing.T) {
	src := config.Source{Name: "okta", Verify: verify.Config{Scheme: "okta", Secret: "env:OKTA", Handshakes: []string{"okta"}}}
	h, err := New(context.Background(), &config.Function{Sources: []config.Source{src}}, memSecrets{"env:OKTA": "okta-hook-token-0123456789"},
		func(context.Context, config.Source) (pattern.Pattern, error) { return &recorder{}, nil },
		Options{Logger: logging.New(&strings.Builder{}, slog.LevelInfo)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		token, challenge string
		want             int
	}{
		{"okta-hook-token-0123456789", "c-1", http.StatusOK},
		{"not-the-token-0123456789", "c-1", http.StatusUnauthorized},
		{"okta-hook-token-0123456789", "", http.StatusMethodNotAllowed},
	} {
		r := httptest.NewRequest(http.MethodGet, "/okta", nil)
		r.Header.Set("Authorization", tt.token)
		if tt.challenge != "" {
			r.Header.Set("X-Okta-Verification-Challenge", tt.challenge)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("GET with token %.8s… challenge %q: %d %s, want %d", tt.token, tt.challenge, w.Code, w.Body, tt.want)
		}
		if tt.want == http.StatusOK && !strings.Contains(w.Body.String(), `"verification":"c-1"`) {
			t.Errorf("reply %s, want the challenge as verification", w.Body)
		}
	}
}
