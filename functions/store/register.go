package store

import "github.com/cloudhooks/webhooks/shared/pipeline"

// The Store entry point serves the sources of the config file's store
// section.
func init() { pipeline.Register("Store", "store", NewPattern) }
