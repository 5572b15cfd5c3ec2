package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"firebase.google.com/go/v4/messaging"

	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/ndjson"
)

// record identifies a message in the dry-run file.
type record struct {
	Source string `json:"source"`
	Event  string `json:"event_id"`
	Rule   string `json:"rule"`
}

type recordKey struct{}

// withRecord tells the dry-run recorder which event a message is for.
func withRecord(ctx context.Context, r record) context.Context {
	return context.WithValue(ctx, recordKey{}, r)
}

// recorder is the dry-run sender: it appends each message, in FCM's own
// JSON form, to an NDJSON file and logs it, so a user sees exactly what a
// phone would receive. Token lists are recorded whole in the file (a local
// file of the user's own test data) but only counted in the log.
type recorder struct {
	file *ndjson.File
	log  *slog.Logger
	mu   sync.Mutex // numbers the messages in line order
	n    int
}

func newRecorder(path string, log *slog.Logger) *recorder {
	return &recorder{file: ndjson.New(path), log: log}
}

// dryRunLine is one line of the dry-run file.
type dryRunLine struct {
	Time time.Time `json:"time"`
	record
	Tokens  []string           `json:"tokens,omitempty"`
	Message *messaging.Message `json:"message"`
}

// Send records m.
func (r *recorder) Send(ctx context.Context, m *messaging.Message) (string, error) {
	name, err := r.write(ctx, dryRunLine{Message: m})
	if err != nil {
		return "", err
	}
	rec := recordOf(ctx)
	r.log.InfoContext(ctx, "relay: dry run: would send", logging.FieldSource, rec.Source, logging.FieldEventID, rec.Event, "rule", rec.Rule, "topic", m.Topic, "condition", m.Condition,
		"token_sha256", hashIf(m.Token), "title", notificationTitle(m.Notification), "name", name)
	return name, nil
}

// SendEachForMulticast records m as one line and reports every token sent.
func (r *recorder) SendEachForMulticast(ctx context.Context, m *messaging.MulticastMessage) (*messaging.BatchResponse, error) {
	msg := &messaging.Message{Data: m.Data, Notification: m.Notification, Android: m.Android, APNS: m.APNS, Webpush: m.Webpush}
	name, err := r.write(ctx, dryRunLine{Tokens: m.Tokens, Message: msg})
	if err != nil {
		return nil, err
	}
	rec := recordOf(ctx)
	r.log.InfoContext(ctx, "relay: dry run: would send", logging.FieldSource, rec.Source, logging.FieldEventID, rec.Event, "rule", rec.Rule, "tokens", len(m.Tokens),
		"title", notificationTitle(m.Notification), "name", name)
	br := &messaging.BatchResponse{SuccessCount: len(m.Tokens)}
	for range m.Tokens {
		br.Responses = append(br.Responses, &messaging.SendResponse{Success: true, MessageID: name})
	}
	return br, nil
}

// write appends one line and returns a message name like FCM's.
func (r *recorder) write(ctx context.Context, line dryRunLine) (string, error) {
	line.Time = time.Now().UTC()
	line.record = recordOf(ctx)
	b, err := json.Marshal(line)
	if err != nil {
		return "", fmt.Errorf("relay: dry run: encode message: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.file.Append(b); err != nil {
		return "", fmt.Errorf("relay: dry run: %w", err)
	}
	r.n++
	return fmt.Sprintf("dry-run/messages/%d", r.n), nil
}

func recordOf(ctx context.Context) record {
	r, _ := ctx.Value(recordKey{}).(record)
	return r
}

func hashIf(token string) string {
	if token == "" {
		return ""
	}
	return tokenHash(token)
}

func notificationTitle(n *messaging.Notification) string {
	if n == nil {
		return ""
	}
	return n.Title
}
