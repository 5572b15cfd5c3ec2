package webhooks

import (
	"net/http"

	"github.com/cloudhooks/webhooks/functions/trigger" // registers Trigger, TriggerWorker
	"github.com/cloudhooks/webhooks/shared/pipeline"
)

// Trigger serves the Trigger function. The Functions Framework serves it
// by its registered name; this export is for a buildpack main that calls
// webhooks.Trigger directly.
func Trigger(w http.ResponseWriter, r *http.Request) { pipeline.Serve("Trigger", w, r) }

// TriggerWorker serves the Pub/Sub push requests of async Trigger jobs,
// like the registered TriggerWorker, for a buildpack main that calls it
// directly.
func TriggerWorker(w http.ResponseWriter, r *http.Request) { trigger.Worker(w, r) }
