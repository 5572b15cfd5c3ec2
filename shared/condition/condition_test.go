package condition

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/event"
)

func vars(t testing.TB, payload string) event.Vars {
	t.Helper()
	ev := &event.Event{Source: "github", ID: "d1", Type: "push", ReceivedAt: time.Unix(0, 0),
		Headers: map[string]string{"X-Github-Event": "push"}, Payload: []byte(payload)}
	v, err := ev.Vars()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMatchEvaluatesOverTheEvent(t *testing.T) {
	push := `{"ref":"refs/heads/main","repository":{"full_name":"o/r","private":false},"commits":[{"id":"a"},{"id":"b"}]}`
	tests := []struct {
		name, expr string
		want       bool
	}{
		{"type and ref", `type == "push" && payload.ref == "refs/heads/main"`, true},
		{"other branch", `payload.ref == "refs/heads/dev"`, false},
		{"nested field", `payload.repository.full_name.startsWith("o/")`, true},
		{"list size", `size(payload.commits) == 2`, true},
		{"has on optional field", `has(payload.deleted) && payload.deleted`, false},
		{"optional with default", `payload.?sender.login.orValue("nobody") == "nobody"`, true},
		{"header", `headers["X-Github-Event"] == "push"`, true},
		{"source", `source == "github"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Match(vars(t, push))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("%s = %v, want %v", tt.expr, got, tt.want)
			}
		})
	}
}

// A 64-bit id compares as its digits (float64 would make neighbouring ids
// equal), and numbers of every kind still compare with each other.
func TestNumbersCompareByTheirDigits(t *testing.T) {
	payload := `{"x_id":1234567890123456789,"big":12345678901234567891,"amount":2000,"rate":2.5}`
	for expr, want := range map[string]bool{
		`payload.x_id == 1234567890123456789`:                         true,
		`payload.x_id == 1234567890123456788`:                         false, // equal as float64
		`payload.big == 12345678901234567891u`:                        true,
		`payload.big == 12345678901234567168u`:                        false, // equal as float64
		`string(payload.big) == "12345678901234567891"`:               true,
		`payload.big > payload.x_id && payload.x_id > 1.5`:            true,
		`payload.amount >= 100 && payload.amount == 2000.0`:           true,
		`payload.amount / 100.0 == 20.0 && payload.rate * 2.0 == 5.0`: true,
	} {
		c, err := Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Match(vars(t, payload))
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", expr, got, err, want)
		}
	}
}

func TestCompileRejectsBadExpressionsWithPosition(t *testing.T) {
	tests := []struct{ name, expr, want string }{
		{"syntax", `type == `, "1:9"},
		{"unknown variable", `kind == "push"`, "undeclared reference to 'kind'"},
		{"not boolean", `type + "x"`, "want bool"},
		{"type error", `type == 1`, "no matching overload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compile(%q) error = %v, want it to contain %q", tt.expr, err, tt.want)
			}
		})
	}
}

func TestMatchReportsMissingFieldsAndNonBooleans(t *testing.T) {
	c, err := Compile(`payload.missing == "x"`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Match(vars(t, `{}`)); err == nil {
		t.Error("a missing payload field matched instead of failing")
	}
	c, err = Compile(`payload.flag`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Match(vars(t, `{"flag":"yes"}`)); !errors.Is(err, ErrNotBool) {
		t.Errorf("string-valued condition: error %v, want ErrNotBool", err)
	}
}
