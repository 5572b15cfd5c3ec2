// Package condition compiles the CEL expressions that rules use to choose
// events, the expression language Google Cloud uses for Eventarc filters
// and IAM conditions.
//
// An expression reads the event's variables (see event.Vars): source, id,
// type, schema_version, received_at (a timestamp), headers (a string map)
// and payload (the decoded JSON: numbers are doubles, but for integers
// beyond ±2^53, which are ints, or uints above int64's range, so that
// 64-bit ids compare by their digits; see event.Vars):
//
//	c, err := condition.Compile(`type == "push" && payload.ref == "refs/heads/main"`)
//	// at start-up: err names the position of a syntax or type error
//	vars, _ := ev.Vars()
//	ok, err := c.Match(vars)
//
// Expressions are compiled and type-checked once, at start-up; matching an
// event evaluates the prepared program only. The embedded configuration's
// expressions ship already checked (prepared.json, see prepared.go), so
// that a cold start skips CEL's parser for them.
//
// The package also holds what every function's rules share, so that Relay
// and Trigger choose events the same way: Rule, the name, events and
// condition a rule is written with, compiled into a Matcher; and the one
// CEL environment, whose variables are named by package event's Var
// constants, which CompileString (Trigger's serialize_by) uses too:
//
//	r := condition.Rule{Name: "deploy", Events: []string{"push"}, Condition: `payload.ref == "refs/heads/main"`}
//	m, err := r.Compile("rules[0]") // err names each field: "rules[0].events: missing: …"
//	ok, err := m.Match(ev.Type, vars)
package condition

import (
	"errors"
	"fmt"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"

	"github.com/cloudhooks/webhooks/shared/event"
)

// Condition is a compiled, type-checked boolean expression over an event.
type Condition struct {
	source string
	prg    cel.Program
}

var (
	envOnce sync.Once
	env     *cel.Env
	envErr  error
)

// environment declares the event variables once, under the names package
// event gives them, for every expression: the boolean conditions here and
// the string expressions of CompileString.
func environment() (*cel.Env, error) {
	envOnce.Do(func() {
		env, envErr = cel.NewEnv(
			cel.Variable(event.VarSource, cel.StringType),
			cel.Variable(event.VarID, cel.StringType),
			cel.Variable(event.VarType, cel.StringType),
			cel.Variable(event.VarSchemaVersion, cel.StringType),
			cel.Variable(event.VarReceivedAt, cel.TimestampType),
			cel.Variable(event.VarHeaders, cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable(event.VarPayload, cel.DynType),
			cel.OptionalTypes(),
			ext.Strings(),
		)
	})
	return env, envErr
}

// program compiles expr in the event environment and checks that it
// yields want (or dyn, checked when it runs).
func program(expr string, want *cel.Type) (cel.Program, error) {
	e, err := environment()
	if err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	checked, err := checkedAST(e, expr)
	if err != nil {
		return nil, err
	}
	if t := checked.GetType(checked.Expr().ID()); !t.IsExactType(want) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("%q is %s, want %s", expr, t, want)
	}
	prg, err := e.PlanProgram(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("program: %w", err)
	}
	return prg, nil
}

// Compile parses and type-checks expr, which must be boolean. The error
// names the line and column of the problem.
func Compile(expr string) (*Condition, error) {
	prg, err := program(expr, cel.BoolType)
	if err != nil {
		return nil, fmt.Errorf("condition: %w", err)
	}
	return &Condition{source: expr, prg: prg}, nil
}

// ErrNotBool means an expression typed dyn evaluated to something other
// than a boolean for this event.
var ErrNotBool = errors.New("condition did not evaluate to a boolean")

// Match evaluates the condition over an event's variables. A field missing
// from the payload is an error, not false: write `has(payload.x)` or
// `payload.?x.orValue(…)` to test for optional fields.
func (c *Condition) Match(vars event.Vars) (bool, error) {
	out, _, err := c.prg.Eval(map[string]any(vars))
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", c.source, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition %q: %w", c.source, ErrNotBool)
	}
	return b, nil
}

// String returns the expression's source text.
func (c *Condition) String() string { return c.source }

// String is a compiled expression over an event that yields a string,
// such as Trigger's serialize_by key (`payload.repository.full_name`).
type String struct {
	source string
	prg    cel.Program
}

// ErrNotString means an expression typed dyn evaluated to something other
// than a string for this event.
var ErrNotString = errors.New("expression did not evaluate to a string")

// CompileString parses and type-checks expr, which must yield a string,
// in the environment conditions use. The error names the position.
func CompileString(expr string) (*String, error) {
	prg, err := program(expr, cel.StringType)
	if err != nil {
		return nil, err
	}
	return &String{source: expr, prg: prg}, nil
}

// Eval evaluates the expression over an event's variables.
func (s *String) Eval(vars event.Vars) (string, error) {
	out, _, err := s.prg.Eval(map[string]any(vars))
	if err != nil {
		return "", fmt.Errorf("%q: %w", s.source, err)
	}
	v, ok := out.Value().(string)
	if !ok {
		return "", fmt.Errorf("%q: %w", s.source, ErrNotString)
	}
	return v, nil
}
