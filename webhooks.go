// Package webhooks is the module root that the Cloud Run functions Go
// buildpack builds. Each function is one file here, and each function's
// deploy archive (terraform/modules/function) holds only its own file:
//
//	store.go    Store          functions/store    verified webhooks → BigQuery rows
//	relay.go    Relay          functions/relay    verified webhooks → FCM notifications
//	trigger.go  Trigger        functions/trigger  verified webhooks → actions by rule
//	            TriggerWorker  functions/trigger  Pub/Sub jobs of async Trigger rules
//
// so a Store instance links no Firebase, CEL or Cloud Build code. In this
// repository all three files are present and importing the package
// registers every function (the local runner does).
//
// Start reading at shared/pipeline (the request path every function shares)
// and shared/verify (how requests are proven to come from their provider).
package webhooks

import (
	// The buildpack generates its declarative main (a blank import of this
	// package, then funcframework.Start serving the function registered as
	// FUNCTION_TARGET) only when this package's own files import the
	// functions package: GoogleCloudPlatform/buildpacks
	// cmd/go/functions_framework/lib/lib.go, createMainGoFile. Without
	// this import it generates a main calling webhooks.<FUNCTION_TARGET>,
	// which the exported entry points beside this file also satisfy.
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"
)
