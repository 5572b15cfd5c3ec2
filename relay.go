package webhooks

import (
	"net/http"

	_ "github.com/cloudhooks/webhooks/functions/relay" // registers Relay
	"github.com/cloudhooks/webhooks/shared/pipeline"
)

// Relay serves the Relay function. The Functions Framework serves it by
// its registered name; this export is for a buildpack main that calls
// webhooks.Relay directly.
func Relay(w http.ResponseWriter, r *http.Request) { pipeline.Serve("Relay", w, r) }
