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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
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

// The names of the variables in Vars, declared here once: CEL conditions
// (package condition) declare them with these names and templates read
// them as .source, .payload and so on.
const (
	VarSource        = "source"         // string: Event.Source
	VarID            = "id"             // string: Event.ID
	VarType          = "type"           // string: Event.Type
	VarSchemaVersion = "schema_version" // string: Event.SchemaVersion
	VarReceivedAt    = "received_at"    // time.Time: Event.ReceivedAt
	VarHeaders       = "headers"        // map of strings: Event.Headers
	VarPayload       = "payload"        // the decoded Event.Payload
)

// Vars is the view of an event that rule conditions and templates read:
// source, id, type, schema_version, received_at, headers and the decoded
// payload (the Var constants name them). Decode it once per event and share it across rules.
//
// The payload decodes as encoding/json decodes into any, but for numbers,
// which keep the value of their digits: a number is a float64, as before,
// except an integer beyond ±2^53, which float64 would round (X's and
// Discord's 64-bit ids: 12345678901234567891 would read 12345678901234567168):
// that is an int64, or a uint64 above int64's range, so that conditions
// compare and templates write the digits Store keeps. (Integers beyond
// uint64 are float64: neither CEL nor templates hold more.)
type Vars map[string]any

// Vars decodes the payload and returns the event's rule variables.
func (e *Event) Vars() (Vars, error) {
	var payload any
	if len(e.Payload) > 0 {
		var err error
		if payload, err = decodePayload(e.Payload); err != nil {
			return nil, fmt.Errorf("event.Vars: decode payload: %w", err)
		}
	}
	headers := make(map[string]any, len(e.Headers))
	for k, v := range e.Headers {
		headers[k] = v
	}
	return Vars{
		VarSource:        e.Source,
		VarID:            e.ID,
		VarType:          e.Type,
		VarSchemaVersion: e.SchemaVersion,
		VarReceivedAt:    e.ReceivedAt,
		VarHeaders:       headers,
		VarPayload:       payload,
	}, nil
}

// decodePayload decodes one JSON value with its numbers as Vars says.
func decodePayload(data []byte) (any, error) {
	if !hasLongDigitRun(data) {
		// Every integer has at most 15 digits, below 2^53: what
		// json.Unmarshal reads is exact, and it reads it faster.
		var v any
		err := json.Unmarshal(data, &v)
		return v, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return exactNumbers(v)
}

// exactNumbers replaces each json.Number in v, in place, by its value.
func exactNumbers(v any) (any, error) {
	var err error
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if v[k], err = exactNumbers(e); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, e := range v {
			if v[i], err = exactNumbers(e); err != nil {
				return nil, err
			}
		}
	case json.Number:
		return number(string(v))
	}
	return v, nil
}

// hasLongDigitRun reports whether data holds 16 digits in a row, the
// fewest an integer beyond 2^53 (9007199254740993) is written with.
func hasLongDigitRun(data []byte) bool {
	run := 0
	for _, c := range data {
		if '0' <= c && c <= '9' {
			if run++; run == 16 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// maxExact is the largest magnitude up to which float64 holds every
// integer.
const maxExact = 1 << 53

// number is the value of a JSON number literal, as Vars says.
func number(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			if -maxExact <= i && i <= maxExact {
				return float64(i), nil
			}
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Only a range error: the decoder has checked the syntax. The
		// error does not quote the payload.
		return nil, fmt.Errorf("a number is outside float64's range: %w", strconv.ErrRange)
	}
	return f, nil
}
