// Package config reads the sources every function serves from one YAML file
// and validates them once, at start-up.
//
// The file (webhooks.yaml beside this package, embedded in the binary and
// also read by the terraform) has one section per function. Each source is
// one URL path of that function, with how its requests are verified and,
// for relay and trigger, its rules:
//
//	store:
//	  sources:
//	    - name: github            # served at https://…/github
//	      verify:
//	        scheme: github
//	        secret: sm:github-webhook-secret
//
// Deployment values (project, table, topic) come from environment
// variables set by the terraform; behaviour comes from this file.
package config

import (
	"encoding/json"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// File is the whole configuration file.
type File struct {
	Store   *Function `json:"store,omitempty"`
	Relay   *Function `json:"relay,omitempty"`
	Trigger *Function `json:"trigger,omitempty"`

	name string    // for messages: the WEBHOOKS_CONFIG path or EmbeddedName
	pos  positions // where each field is written
}

// Function is the configuration of one function: the sources it serves.
type Function struct {
	Sources []Source `json:"sources"`

	section string // "store", "relay", "trigger"
	file    *File  // for Located
}

// Source is one provider endpoint of a function.
type Source struct {
	// Name is the URL path segment ("github" for https://…/github).
	Name string `json:"name"`
	// Verify says how requests to this source are proven genuine.
	Verify verify.Config `json:"verify"`
	// PayloadField names the form field that carries the JSON payload when
	// the provider posts application/x-www-form-urlencoded; a preset
	// names its own (GitHub's and Slack's "payload").
	PayloadField string `json:"payload_field,omitempty"`
	// Rules are the pattern's rules for this source (relay, trigger), kept
	// raw here and decoded and validated by the pattern at start-up.
	Rules json.RawMessage `json:"rules,omitempty"`
}
