package trigger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cloudhooks/webhooks/shared/condition"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/render"
)

// keyExpr computes a rule's serialization key for an event: the Pub/Sub
// ordering key of its jobs in async mode, the lock it holds in sync mode.
// It is a template when the text contains "{{" and a CEL expression
// yielding a string otherwise (`payload.repository.full_name`), in the
// environment of rule conditions (package condition).
type keyExpr struct {
	tmpl *render.Template
	expr *condition.String
}

// compileKey compiles a serialize_by text; the error names the position.
func compileKey(text string) (*keyExpr, error) {
	if strings.Contains(text, "{{") {
		t, err := render.Parse("serialize_by", text)
		if err != nil {
			return nil, err
		}
		return &keyExpr{tmpl: t}, nil
	}
	e, err := condition.CompileString(text)
	if err != nil {
		return nil, err
	}
	return &keyExpr{expr: e}, nil
}

// eval computes the key for one event.
func (k *keyExpr) eval(vars event.Vars) (string, error) {
	if k.tmpl != nil {
		return k.tmpl.Execute(vars)
	}
	s, err := k.expr.Eval(vars)
	if err != nil {
		return "", fmt.Errorf("serialize_by %w", err)
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
