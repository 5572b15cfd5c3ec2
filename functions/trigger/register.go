package trigger

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/cloudhooks/webhooks/shared/pipeline"
)

// Trigger serves the sources of the config file's trigger section;
// TriggerWorker runs the jobs its async rules queue.
// The names are literals here, where terraform's test reads them.
func init() {
	pipeline.Register("Trigger", "trigger", NewPattern)
	functions.CloudEvent("TriggerWorker", Work)
}

// The entry points registered above, as log lines name them.
const (
	FunctionTrigger = "Trigger"
	FunctionWorker  = "TriggerWorker"
)

// Work is the TriggerWorker function: it runs the job in a Pub/Sub message: an Eventarc Pub/Sub
// CloudEvent, or a push subscription's request to
// <worker url>/projects/P/topics/T, which the framework converts to the
// same CloudEvent. Returning an error answers 500: Pub/Sub redelivers.
func Work(ctx context.Context, e cloudevents.Event) error {
	return processWorker.handle(ctx, e.Data())
}
