package webhooks

import (
	"net/http"

	_ "github.com/cloudhooks/webhooks/functions/store" // registers Store
	"github.com/cloudhooks/webhooks/shared/pipeline"
)

// Store serves the Store function. The Functions Framework serves it by
// its registered name; this export is for a buildpack main that calls
// webhooks.Store directly.
func Store(w http.ResponseWriter, r *http.Request) { pipeline.Serve("Store", w, r) }
