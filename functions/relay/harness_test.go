package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"
	"sigs.k8s.io/yaml"

	"github.com/cloudhooks/webhooks/functions/relay/fcmtest"
	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopFirestore()
	os.Exit(code)
}

// harness is a relay for one source, sending with the real FCM client to
// a local FCM server.
type harness struct {
	fcm    *fcmtest.Server
	relay  *relay
	claims idempotency.Store
	logs   *syncBuffer
	send   *countingSender
}

// countingSender counts the calls Relay makes on the real client.
type countingSender struct {
	sender
	sends, multicasts atomic.Int64
}

func (c *countingSender) Send(ctx context.Context, m *messaging.Message) (string, error) {
	c.sends.Add(1)
	return c.sender.Send(ctx, m)
}

func (c *countingSender) SendEachForMulticast(ctx context.Context, m *messaging.MulticastMessage) (*messaging.BatchResponse, error) {
	c.multicasts.Add(1)
	return c.sender.SendEachForMulticast(ctx, m)
}

// syncBuffer is a log sink safe for concurrent deliveries.
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

// newHarness compiles rulesYAML (the YAML list under `rules:`) for source
// "src" with claims in store (in memory when nil).
func newHarness(t testing.TB, rulesYAML string, store idempotency.Store) *harness {
	t.Helper()
	srv := fcmtest.NewServer("test-project")
	t.Cleanup(srv.Close)
	client, err := srv.Messaging(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if store == nil {
		store = idempotency.NewMemory(time.Minute)
	}
	h := &harness{fcm: srv, claims: store, logs: &syncBuffer{}, send: &countingSender{sender: client}}
	d := &deps{
		send:        h.send,
		claims:      store,
		log:         slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		sendTimeout: 10 * time.Second,
	}
	h.relay, err = newPatternWith(config.Source{Name: "src", Rules: rulesJSON(t, rulesYAML)}, d)
	if err != nil {
		t.Fatalf("newPattern: %v", err)
	}
	return h
}

// rulesJSON converts a YAML rules list as webhooks.yaml holds it to the
// JSON that config.Source.Rules carries.
func rulesJSON(t testing.TB, rulesYAML string) json.RawMessage {
	t.Helper()
	b, err := yaml.YAMLToJSON([]byte(rulesYAML))
	if err != nil {
		t.Fatalf("rules YAML: %v", err)
	}
	return b
}

// newEvent is a verified event of source "src".
func newEvent(typ, id, payload string) *event.Event {
	return &event.Event{
		Source:     "src",
		ID:         id,
		Type:       typ,
		ReceivedAt: time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC),
		Headers:    map[string]string{"User-Agent": "Stripe/1.0"},
		Payload:    json.RawMessage(payload),
	}
}
