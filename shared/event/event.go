// Package event defines the envelope every verified webhook becomes before a
// pattern (store, relay, trigger) sees it.
//
// The request pipeline (package pipeline) builds one Event per accepted
// request: the source it arrived on, the provider's identity for it, and the
// raw payload exactly as signed. Patterns read Events and never the HTTP
// request, so a pattern can be tested, replayed or moved to a queue without
// HTTP in the way.
package event

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event is one verified webhook delivery.
type Event struct {
	// Source is the configured source name, which is also its URL path
	// ("github" for https://…/github).
	Source string `json:"source"`
	// ID identifies the event across provider retries: the provider's
	// delivery or event id, or a content hash when the provider sends none.
	ID string `json:"id"`
	// Type is the provider's event type ("push", "payment_intent.succeeded"),
	// empty when the provider sends none.
	Type string `json:"type,omitempty"`
	// SchemaVersion is the payload schema version when the provider sends
	// one (X-Webhook-Version, a payload "version" field).
	SchemaVersion string `json:"schema_version,omitempty"`
	// ReceivedAt is when this instance received the request, in UTC.
	ReceivedAt time.Time `json:"received_at"`
	// Headers are the selected request headers worth keeping (delivery ids,
	// event types, user agent); never signature or secret headers.
	Headers map[string]string `json:"headers,omitempty"`
	// Payload is the request body as JSON: the raw bytes for JSON bodies,
	// and an object of the form fields for form-encoded bodies. The
	// pipeline guarantees it is valid JSON, UTF-8 text with no duplicate
	// member names (it answers 400 otherwise, see package strictjson), so
	// decoding it gives every pattern the value the bytes hold and
	// patterns need not scan it again.
	Payload json.RawMessage `json:"payload"`
}

// Vars is the view of an event that rule conditions and templates read:
// source, id, type, schema_version, received_at, headers and the decoded
// payload. Decode it once per event and share it across rules.
type Vars map[string]any

// Vars decodes the payload and returns the event's rule variables.
func (e *Event) Vars() (Vars, error) {
	var payload any
	if len(e.Payload) > 0 {
		if err := json.Unmarshal(e.Payload, &payload); err != nil {
			return nil, fmt.Errorf("event.Vars: decode payload: %w", err)
		}
	}
	headers := make(map[string]any, len(e.Headers))
	for k, v := range e.Headers {
		headers[k] = v
	}
	return Vars{
		"source":         e.Source,
		"id":             e.ID,
		"type":           e.Type,
		"schema_version": e.SchemaVersion,
		"received_at":    e.ReceivedAt,
		"headers":        headers,
		"payload":        payload,
	}, nil
}
