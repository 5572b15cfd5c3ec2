package render

import (
	"errors"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/shared/event"
)

func TestExecuteFillsFromTheEvent(t *testing.T) {
	ev := &event.Event{Source: "stripe", ID: "evt_1", Type: "payment_intent.succeeded",
		Payload: []byte(`{"data":{"object":{"amount":2000,"currency":"eur","meta":{"a":"b"}}}}`)}
	v, err := ev.Vars()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, text, want string }{
		{"field", "Payment of {{.payload.data.object.amount}} {{.payload.data.object.currency}}", "Payment of 2000 eur"},
		{"envelope", "{{.source}}/{{.id}}", "stripe/evt_1"},
		{"json", `{"meta":{{json .payload.data.object.meta}}}`, `{"meta":{"a":"b"}}`},
		{"default", `{{default "none" (index .payload.data.object "description")}}`, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.name, tt.text)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Execute(v)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExecuteFailsOnMissingFields(t *testing.T) {
	tmpl, err := Parse("title", "Hello {{.payload.user.name}}")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := (&event.Event{Payload: []byte(`{"user":{}}`)}).Vars()
	if _, err := tmpl.Execute(v); !errors.Is(err, ErrRender) {
		t.Fatalf("missing field rendered: err = %v", err)
	}
}

func TestParseNamesTheTemplate(t *testing.T) {
	_, err := Parse("notification.title", "{{.payload.x")
	if err == nil || !strings.Contains(err.Error(), "notification.title") {
		t.Fatalf("Parse error = %v, want the template name", err)
	}
}
