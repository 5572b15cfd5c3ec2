package relay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/pipeline/pipelinetest"
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
  events: [payment_intent.succeeded]
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
	if code := deliver("whsec_forged_0123456789abcdef"); code != http.StatusUnauthorized {
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

// A signed body with two readings (duplicate names, text that is not
// UTF-8) is refused with 400 and sends nothing: Store refuses the same
// bodies, so no message differs from the stored event.
func TestBodiesWithTwoReadingsSendNothing(t *testing.T) {
	h := newHarness(t, `
- name: deploys
  events: ["*"]
  to: {topic: deploys}
  notification: {title: Push, body: "{{.payload.ref}}"}
`, nil)
	deliver := githubPushes(t, h.relay)
	for i, body := range []string{
		`{"ref":"refs/heads/main","ref":"refs/heads/evil"}`,
		`{"ref":"refs/heads/main","x":{"a":1,"a":2}}`,
		"{\"ref\":\"refs/heads/evil\xff\"}",
		`{"ref":"refs/heads/evil\ud800"}`,
	} {
		if code := deliver(fmt.Sprintf("d-%d", i), body); code != http.StatusBadRequest {
			t.Errorf("body %q: status %d, want 400", body, code)
		}
	}
	if got := h.fcm.Received(); len(got) != 0 {
		t.Fatalf("FCM received %d messages for refused bodies, first %s", len(got), got[0].Raw)
	}
	if code := deliver("d-ok", `{"ref":"refs/heads/main"}`); code != http.StatusOK {
		t.Fatalf("a plain push: status %d, want 200", code)
	}
	if got := h.fcm.Received(); len(got) != 1 || got[0].Message.Notification.Body != "refs/heads/main" {
		t.Errorf("FCM received %d messages, want the plain push's", len(got))
	}
}

// staticSecrets is an in-memory secret source.
type staticSecrets map[string]string

func (m staticSecrets) Secret(_ context.Context, ref string) ([]byte, error) {
	if v, ok := m[ref]; ok {
		return []byte(v), nil
	}
	return nil, fmt.Errorf("secret %s not found", ref)
}

// The reading battery (package pipelinetest): repeated signature and
// identity headers, identity headers that are not UTF-8, content
// encodings, top-level JSON shapes. Relay answers each case with the
// status Store and Trigger answer it with.
func TestRelayReadsARequestAsEveryFunctionDoes(t *testing.T) {
	h := newHarness(t, `
- name: pushes
  events: [push]
  to: {topic: deploys}
  notification: {title: Push, body: "{{.type}} {{.id}}"}
`, nil)
	handler, err := pipeline.New(context.Background(), &config.Function{Sources: []config.Source{pipelinetest.Source()}}, pipelinetest.Secrets,
		func(context.Context, config.Source) (pattern.Pattern, error) { return h.relay, nil }, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pipelinetest.RunReadingBattery(t, handler)
}

// X's and Discord's ids are 64-bit integers: read as float64 they round,
// 12345678901234567891 to 12345678901234567168, so a rule meant for one id
// notified its neighbours with other digits than Store keeps. The attack:
// the neighbour's event sends nothing, and the id's own event reaches the
// notification and its data as its digits.
func TestA64BitIDReachesNotificationsAsItsDigits(t *testing.T) {
	h := newHarness(t, `
- name: mentions
  events: ["*"]
  condition: payload.user.id == 12345678901234567891u && payload.n == 2.5
  to: {topic: mentions}
  notification: {title: Mention, body: "{{.payload.user.id}} {{.payload.n}}"}
  data: {user: "{{json .payload.user.id}}"}
`, nil)
	deliver := githubPushes(t, h.relay)
	if code := deliver("d-neighbour", `{"user":{"id":12345678901234567168},"n":2.5}`); code != http.StatusOK {
		t.Fatalf("the neighbour's event: status %d, want 200", code)
	}
	if got := h.fcm.Received(); len(got) != 0 {
		t.Fatalf("the neighbour's event was sent: %s", got[0].Raw)
	}
	if code := deliver("d-id", `{"user":{"id":12345678901234567891},"n":2.5}`); code != http.StatusOK {
		t.Fatalf("the id's event: status %d, want 200", code)
	}
	got := h.fcm.Received()
	if len(got) != 1 {
		t.Fatalf("FCM received %d messages, want 1", len(got))
	}
	if m := got[0].Message; m.Notification == nil || m.Notification.Body != "12345678901234567891 2.5" || m.Data["user"] != "12345678901234567891" {
		t.Errorf("FCM received %s, want the id's digits", got[0].Raw)
	}
}

// githubPushes runs the pipeline over pat for one github source and
// returns a delivery of a push signed as GitHub signs it: its status.
func githubPushes(t *testing.T, pat pattern.Pattern) func(id, body string) int {
	t.Helper()
	src := config.Source{Name: "github", Verify: verify.Config{Scheme: "github", Secret: "env:KEY"}}
	handler, err := pipeline.New(context.Background(), &config.Function{Sources: []config.Source{src}}, staticSecrets{"env:KEY": "relay-test-key-0123456789"},
		func(context.Context, config.Source) (pattern.Pattern, error) { return pat, nil }, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return func(id, body string) int {
		r := httptest.NewRequest(http.MethodPost, "/github", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-GitHub-Event", "push")
		r.Header.Set("X-GitHub-Delivery", id)
		if err := verify.Sign(src.Verify, []byte("relay-test-key-0123456789"), time.Now(), r, []byte(body)); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w.Code
	}
}
