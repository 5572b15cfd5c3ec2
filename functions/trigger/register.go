package trigger

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/cloudhooks/webhooks/shared/pipeline"
)

// Trigger serves the sources of the config file's trigger section;
// TriggerWorker runs the jobs its async rules queue.
// The names are literals here, where terraform's test reads them.
func init() {
	pipeline.Register("Trigger", "trigger", NewPattern)
	functions.HTTP("TriggerWorker", serveWorker)
}

// The entry points registered above, as log lines name them.
const (
	functionTrigger = "Trigger"
	functionWorker  = "TriggerWorker"
)

// Worker is the TriggerWorker function: the requests of the Pub/Sub push
// subscription to the jobs topic, each job run once its push token
// (EnvPushAudience, EnvPushEmail) and its signature (EnvJobKey) are
// checked and its rule matched again. It answers 204 when the job is
// finished with (done, duplicate, dead-lettered or refused) and 500 when
// Pub/Sub should redeliver it.
func Worker(w http.ResponseWriter, r *http.Request) { serveWorker(w, r) }
