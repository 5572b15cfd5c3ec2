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
// event evaluates the prepared program only.
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

// environment declares the event variables once for every expression.
func environment() (*cel.Env, error) {
	envOnce.Do(func() {
		env, envErr = cel.NewEnv(
			cel.Variable("source", cel.StringType),
			cel.Variable("id", cel.StringType),
			cel.Variable("type", cel.StringType),
			cel.Variable("schema_version", cel.StringType),
			cel.Variable("received_at", cel.TimestampType),
			cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable("payload", cel.DynType),
			cel.OptionalTypes(),
			ext.Strings(),
		)
	})
	return env, envErr
}

// Compile parses and type-checks expr, which must be boolean. The error
// names the line and column of the problem.
func Compile(expr string) (*Condition, error) {
	e, err := environment()
	if err != nil {
		return nil, fmt.Errorf("condition: environment: %w", err)
	}
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("condition: %w", iss.Err())
	}
	if !ast.OutputType().IsExactType(cel.BoolType) && !ast.OutputType().IsExactType(cel.DynType) {
		return nil, fmt.Errorf("condition: %q is %s, want bool", expr, ast.OutputType())
	}
	prg, err := e.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("condition: program: %w", err)
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
