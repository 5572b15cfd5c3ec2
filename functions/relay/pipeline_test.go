package relay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/secrets/secretstest"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// A Stripe delivery signed with a key held in Secret Manager goes through
// the shared pipeline to FCM once; Stripe's retry of the same event is
// answered 200 and sends nothing; a forged delivery sends nothing.
func TestSignedDeliveryThroughThePipelineSendsOnce(t *testing.T) {
	h := newHarness(t, `
- name: paid
  types: [payment_intent.succeeded]
  to: {topic: payments}
  notification: {title: Paid, body: "{{.payload.data.object.amount}} {{.payload.data.object.currency}}"}
`, nil)
	const key = "whsec_relay_pipeline_test"
	sm := secretstest.Start(t)
	sm.Add("p", "stripe-webhook-secret", []byte(key))
	resolver := secrets.NewResolver(secrets.Options{Project: "p", Client: sm.Client(t)})
	src := config.Source{Name: "stripe", Verify: verify.Config{Scheme: "stripe", Secret: "sm:stripe-webhook-secret"}}
	handler, err := pipeline.New(context.Background(), &config.Function{Sources: []config.Source{src}}, resolver,
		func(context.Context, config.Source) (pattern.Pattern, error) { return h.relay, nil }, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"id":"evt_42","type":"payment_intent.succeeded","data":{"object":{"amount":2000,"currency":"eur"}}}`
	deliver := func(signingKey string) int {
		r := httptest.NewRequest(http.MethodPost, "/stripe", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if err := verify.Sign(src.Verify, []byte(signingKey), time.Now(), r, []byte(body)); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w.Code
	}
	if code := deliver("whsec_forged"); code != http.StatusUnauthorized {
		t.Fatalf("forged delivery: status %d, want 401", code)
	}
	for i := range 2 {
		if code := deliver(key); code != http.StatusOK {
			t.Fatalf("delivery %d: status %d, want 200", i+1, code)
		}
	}
	got := h.fcm.Received()
	if len(got) != 1 {
		t.Fatalf("FCM received %d messages, want 1", len(got))
	}
	if m := got[0].Message; m.Topic != "payments" || m.Notification == nil || m.Notification.Body != "2000 eur" {
		t.Errorf("FCM received %s", got[0].Raw)
	}
	if calls := sm.Calls(); calls != 1 {
		t.Errorf("Secret Manager was called %d times for three deliveries, want 1 (cached)", calls)
	}
}
