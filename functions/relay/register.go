package relay

import "github.com/cloudhooks/webhooks/shared/pipeline"

// The Relay entry point serves the sources of the config file's relay
// section.
func init() { pipeline.Register("Relay", "relay", NewPattern) }
