package condition

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"google.golang.org/protobuf/proto"

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

// TestTheEnvironmentDeclaresEveryEventVariable proves the CEL environment
// and event.Vars name the same variables: every variable an event has can
// be read by a condition, and a condition names no variable events lack.
func TestTheEnvironmentDeclaresEveryEventVariable(t *testing.T) {
	e, err := environment()
	if err != nil {
		t.Fatal(err)
	}
	v := vars(t, `{}`)
	for name := range v {
		if _, iss := e.Compile(name + ` == ` + name); iss.Err() != nil {
			t.Errorf("event variable %q is not declared: %v", name, iss.Err())
		}
	}
	if _, iss := e.Compile(`undeclared == 1`); iss.Err() == nil {
		t.Error("an undeclared variable compiled")
	}
}

// TestARuleMatchesItsEventsAndCondition pins the one meaning of a rule's
// events and condition that Relay and Trigger share.
func TestARuleMatchesItsEventsAndCondition(t *testing.T) {
	tests := []struct {
		name   string
		events []string
		cond   string
		typ    string
		want   bool
	}{
		{"exact", []string{"push"}, "", "push", true},
		{"exact is not a prefix", []string{"push"}, "", "push.x", false},
		{"prefix", []string{"pull_request*"}, "", "pull_request_review", true},
		{"star is every type", []string{"*"}, "", "anything", true},
		{"star matches no type too", []string{"*"}, "", "", true},
		{"another type", []string{"push", "release"}, "", "issues", false},
		{"condition met", []string{"push"}, `payload.ref == "refs/heads/main"`, "push", true},
		{"condition not met", []string{"push"}, `payload.ref == "refs/heads/dev"`, "push", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rule{Name: "r", Events: tt.events, Condition: tt.cond}
			m, err := r.Compile("rules[0]")
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Match(tt.typ, vars(t, `{"ref":"refs/heads/main"}`))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("events %v condition %q on %q = %v, want %v", tt.events, tt.cond, tt.typ, got, tt.want)
			}
		})
	}
}

// TestARuleMustNameItselfAndItsEvents proves an empty events list is an
// error (write "*" for every type), as is a rule without a name.
func TestARuleMustNameItselfAndItsEvents(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		want []string
	}{
		{"no events", Rule{Name: "r"}, []string{`rules[0].events: missing: list the event types ("*" for all)`}},
		{"no name", Rule{Events: []string{"*"}}, []string{"rules[0].name: missing"}},
		{"slash in the name", Rule{Name: "a/b", Events: []string{"*"}}, []string{`rules[0].name: "a/b": a rule name holds no "/"`}},
		{"empty type", Rule{Name: "r", Events: []string{"push", ""}}, []string{"rules[0].events[1]: empty event type"}},
		{"bad condition", Rule{Name: "r", Events: []string{"*"}, Condition: "1 + 2"}, []string{`rules[0].condition: rule "r":`, "want bool"}},
		{"every problem", Rule{Condition: "payload."}, []string{"rules[0].name: missing", "rules[0].events: missing", "rules[0].condition:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.rule.Compile("rules[0]")
			if err == nil {
				t.Fatal("compiled")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestCompileStringYieldsAString proves string expressions (Trigger's
// serialize_by) share the conditions' variables and refuse other types.
func TestCompileStringYieldsAString(t *testing.T) {
	s, err := CompileString(`source + "/" + payload.ref`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Eval(vars(t, `{"ref":"main"}`)); err != nil || got != "github/main" {
		t.Fatalf("Eval = %q, %v; want github/main", got, err)
	}
	if _, err := CompileString(`1 + 2`); err == nil || !strings.Contains(err.Error(), "want string") {
		t.Fatalf("CompileString(1 + 2) error = %v, want want string", err)
	}
	dyn, err := CompileString(`payload.n`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Eval(vars(t, `{"n":1}`)); !errors.Is(err, ErrNotString) {
		t.Fatalf("Eval of a number = %v, want ErrNotString", err)
	}
}

// Every expression of prepared.json loads, is the AST the checker makes
// of its text, and evaluates as the compiled expression does.
func TestPreparedExpressionsAreWhatCompilingThemGives(t *testing.T) {
	if len(prepared()) == 0 {
		t.Fatal("prepared.json holds no expression")
	}
	e, err := environment()
	if err != nil {
		t.Fatal(err)
	}
	push := vars(t, `{"ref":"refs/heads/main","deleted":false,"repository":{"full_name":"o/r"},"data":{"fcm_tokens":["t"]}}`)
	for expr := range prepared() {
		loaded, ok := preparedAST(expr)
		if !ok {
			t.Fatalf("%q does not load", expr)
		}
		compiled, iss := e.Compile(expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		a, errA := celast.ToProto(loaded)
		b, errB := cel.AstToCheckedExpr(compiled)
		if errA != nil || errB != nil || !proto.Equal(a, b) {
			t.Fatalf("%q: the prepared AST is not the compiled one (%v, %v)", expr, errA, errB)
		}
		eval := func(ast *celast.AST) string {
			prg, err := e.PlanProgram(ast, cel.EvalOptions(cel.OptOptimize))
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := prg.Eval(map[string]any(push))
			if err != nil {
				return "error: " + err.Error()
			}
			return fmt.Sprint(out.Value())
		}
		if got, want := eval(loaded), eval(compiled.NativeRep()); got != want {
			t.Errorf("%q: prepared gives %s, compiled %s", expr, got, want)
		}
	}
}

// An expression that prepared.json does not hold is compiled, and its
// errors still name the position.
func TestAnExpressionNotPreparedIsCompiled(t *testing.T) {
	if _, ok := preparedAST(`payload.x ==`); ok {
		t.Fatal("a broken expression is prepared")
	}
	if _, err := Compile(`payload.x ==`); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Fatalf("Compile of a broken expression: %v, want the position", err)
	}
}
