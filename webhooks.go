// Package webhooks is the module root that the Cloud Run functions Go
// buildpack imports. It holds no code of its own: importing it registers
// every function with the Functions Framework, and the instance serves the
// one named by FUNCTION_TARGET:
//
//	Store          functions/store    verified webhooks → BigQuery rows
//	Relay          functions/relay    verified webhooks → FCM notifications
//	Trigger        functions/trigger  verified webhooks → actions by rule
//	TriggerWorker  functions/trigger  Pub/Sub jobs of async Trigger rules
//
// Start reading at shared/pipeline (the request path every function shares)
// and shared/verify (how requests are proven to come from their provider).
package webhooks

import (
	_ "github.com/cloudhooks/webhooks/functions/relay"   // registers Relay
	_ "github.com/cloudhooks/webhooks/functions/store"   // registers Store
	_ "github.com/cloudhooks/webhooks/functions/trigger" // registers Trigger, TriggerWorker
)
