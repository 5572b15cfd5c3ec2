package trigger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/render"
)

// keyExpr computes a rule's serialization key for an event: the Pub/Sub
// ordering key of its jobs in async mode, the lock it holds in sync mode.
// It is a template when the text contains "{{" and a CEL expression
// yielding a string otherwise (`payload.repository.full_name`).
type keyExpr struct {
	tmpl *render.Template
	prg  cel.Program
	text string
}

var (
	keyEnvOnce sync.Once
	keyEnv     *cel.Env
	keyEnvErr  error
)

// keyEnvironment declares the event variables (the same as package
// condition's) for string-valued key expressions.
func keyEnvironment() (*cel.Env, error) {
	keyEnvOnce.Do(func() {
		keyEnv, keyEnvErr = cel.NewEnv(
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
	return keyEnv, keyEnvErr
}

// compileKey compiles a serialize_by text; the error names the position.
func compileKey(text string) (*keyExpr, error) {
	if strings.Contains(text, "{{") {
		t, err := render.Parse("serialize_by", text)
		if err != nil {
			return nil, err
		}
		return &keyExpr{tmpl: t, text: text}, nil
	}
	env, err := keyEnvironment()
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	ast, iss := env.Compile(text)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if t := ast.OutputType(); !t.IsExactType(cel.StringType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("%q is %s, want string", text, t)
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("cel program: %w", err)
	}
	return &keyExpr{prg: prg, text: text}, nil
}

// errKeyNotString means a key expression typed dyn gave a non-string.
var errKeyNotString = errors.New("serialize_by did not evaluate to a string")

// eval computes the key for one event.
func (k *keyExpr) eval(vars event.Vars) (string, error) {
	if k.tmpl != nil {
		return k.tmpl.Execute(vars)
	}
	out, _, err := k.prg.Eval(map[string]any(vars))
	if err != nil {
		return "", fmt.Errorf("serialize_by %q: %w", k.text, err)
	}
	s, ok := out.Value().(string)
	if !ok {
		return "", fmt.Errorf("serialize_by %q: %w", k.text, errKeyNotString)
	}
	return s, nil
}

// keyedMutex serializes sync-mode rules per key within this process.
// Entries are reference-counted so that the map holds only keys in use.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // a one-slot semaphore: context-aware, unlike sync.Mutex
	refs int
}

// lock takes the key's lock, waiting at most until ctx is done, and
// returns its release.
func (m *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = map[string]*keyLock{}
	}
	l := m.locks[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		m.locks[key] = l
	}
	l.refs++
	m.mu.Unlock()
	drop := func() {
		m.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(m.locks, key)
		}
		m.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; drop() }, nil
	case <-ctx.Done():
		drop()
		return nil, errors.New("trigger: gave up waiting for the serialize_by lock")
	}
}
