// Package render fills the text templates that rules use to build
// notification titles, HTTP bodies and build substitutions from an event.
//
// Templates are Go text/template over the event's variables (see
// event.Vars), parsed once at start-up. A field that the event lacks is an
// error, never an empty string, so a notification never reads
// "Payment of  succeeded":
//
//	t, err := render.Parse("title", "Payment of {{.payload.data.object.amount}} succeeded")
//	s, err := t.Execute(vars) // errors.Is(err, render.ErrRender) when a field is missing
//
// Besides the text/template built-ins, templates have `json` (the value as
// JSON, for templated JSON bodies) and `default`. A field that may be absent
// is read with `index`, which yields nothing instead of failing:
//
//	{{default "anonymous" (index .payload.user "name")}}
//
// Parse leaves values as they are, for text read by people. A template
// whose output is parsed by a machine escapes every value for where it
// lands, so that an event's values cannot change the output's structure:
// ParseURL (the host is literal; values are path- or query-escaped),
// ParseJSON (values stay one JSON value or string content) and ParseForm
// (values are query-escaped). Where no escaping fits, ParseChecked refuses
// a value outside the field's alphabet (an FCM condition's topic names, a
// Cloud Build substitution) instead of rewriting it.
package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"

	"github.com/cloudhooks/webhooks/shared/event"
)

// ErrRender means a template could not be filled for one event: a missing
// field or a function error. Callers answer 422: retrying cannot help.
var ErrRender = errors.New("template did not render")

// Template is a parsed template.
type Template struct {
	t *template.Template
}

var funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"default": func(def, v any) any {
		if v == nil || v == "" {
			return def
		}
		return v
	},
}

// Parse parses text as the template called name; the error names the
// template and the position.
func Parse(name, text string) (*Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return &Template{t: t}, nil
}

// Execute fills the template with an event's variables.
func (t *Template) Execute(vars event.Vars) (string, error) {
	var b strings.Builder
	if err := t.t.Execute(&b, map[string]any(vars)); err != nil {
		return "", fmt.Errorf("%w: %w", ErrRender, err)
	}
	return b.String(), nil
}
