package webhooks

import (
	"context"
	"net/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/cloudhooks/webhooks/functions/trigger" // registers Trigger, TriggerWorker
	"github.com/cloudhooks/webhooks/shared/pipeline"
)

// Trigger serves the Trigger function. The Functions Framework serves it
// by its registered name; this export is for a buildpack main that calls
// webhooks.Trigger directly.
func Trigger(w http.ResponseWriter, r *http.Request) { pipeline.Serve("Trigger", w, r) }

// TriggerWorker runs one job of an async Trigger rule, like the registered
// TriggerWorker, for a buildpack main that calls it directly.
func TriggerWorker(ctx context.Context, e cloudevents.Event) error { return trigger.Work(ctx, e) }
