package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"cloud.google.com/go/pubsub/v2"

	"github.com/cloudhooks/webhooks/shared/ndjson"
)

// recorder stands in for Cloud Build and Pub/Sub in local runs: it appends
// each action it is asked to perform to an NDJSON file and logs it, so a
// user sees exactly what a deployment would do.
type recorder struct {
	file *ndjson.File
	log  *slog.Logger
	mu   sync.Mutex // numbers the records in line order
	n    int
}

func newRecorder(path string, log *slog.Logger) *recorder {
	return &recorder{file: ndjson.New(path), log: log}
}

// recordLine is one line of the local actions file.
type recordLine struct {
	Time     time.Time         `json:"time"`
	Source   string            `json:"source"`
	Event    string            `json:"event_id"`
	Rule     string            `json:"rule"`
	Action   string            `json:"action"`
	Type     string            `json:"type"`
	Topic    string            `json:"topic,omitempty"`
	Data     string            `json:"data,omitempty"`
	Attrs    map[string]string `json:"attributes,omitempty"`
	Build    json.RawMessage   `json:"build_trigger,omitempty"`
	Recorded string            `json:"recorded_as"`
}

func (r *recorder) publish(_ context.Context, topic string, m *pubsub.Message, inv invocation) (string, error) {
	return r.write(inv, recordLine{Type: typePubSub, Topic: topic, Data: string(m.Data), Attrs: m.Attributes})
}

func (r *recorder) runTrigger(_ context.Context, req *cloudbuildpb.RunBuildTriggerRequest, inv invocation) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("trigger: record build: %w", err)
	}
	return r.write(inv, recordLine{Type: typeCloudBuild, Build: b})
}

func (r *recorder) write(inv invocation, line recordLine) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	line.Time = time.Now().UTC()
	line.Source, line.Rule, line.Action = inv.source, inv.rule, inv.action
	if inv.event != nil {
		line.Event = inv.event.ID
	}
	line.Recorded = fmt.Sprintf("local/%s/%d", line.Type, r.n)
	b, err := json.Marshal(line)
	if err != nil {
		return "", fmt.Errorf("trigger: record: %w", err)
	}
	if err := r.file.Append(b); err != nil {
		return "", fmt.Errorf("trigger: record: %w", err)
	}
	r.log.Info("trigger: local run: recorded instead of performed", append(inv.logAttrs(), "action_type", line.Type, "file", r.file.Path())...)
	return line.Recorded, nil
}
