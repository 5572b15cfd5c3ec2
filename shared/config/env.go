package config

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Env reads a function's settings from environment variables. Every bad
// value is collected rather than returned at once, so that a revision that
// fails to start names all of its wrong settings in one error, each with
// the form it wants. An unset or empty variable takes its default.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// NewEnv returns an Env reading through lookup (os.LookupEnv outside
// tests).
func NewEnv(lookup func(string) (string, bool)) *Env {
	return &Env{lookup: lookup}
}

// String returns the value of name, or def when it is unset or empty.
func (e *Env) String(name, def string) string {
	if v, ok := e.lookup(name); ok && v != "" {
		return v
	}
	return def
}

// Duration returns name as a positive Go duration ("5m"), or def.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v := e.String(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.Fail(fmt.Errorf("%s=%q: want a positive Go duration such as %s", name, v, def))
		return def
	}
	return d
}

// Int returns name as a positive integer, or def.
func (e *Env) Int(name string, def int64) int64 {
	v := e.String(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		e.Fail(fmt.Errorf("%s=%q: want a positive whole number", name, v))
		return def
	}
	return n
}

// Bool returns name as a switch ("1" or "true", "0" or "false"), or def.
func (e *Env) Bool(name string, def bool) bool {
	switch v := e.String(name, ""); v {
	case "":
		return def
	case "1", "true":
		return true
	case "0", "false":
		return false
	default:
		e.Fail(fmt.Errorf("%s=%q: want 1 or 0", name, v))
		return def
	}
}

// Fail records a problem found while reading the settings, for checks
// that span several variables; its message names them. The problems of
// another Env's Err are recorded one by one.
func (e *Env) Fail(err error) {
	for _, leaf := range leaves(err) {
		var env *EnvError
		if !errors.As(leaf, &env) {
			leaf = &EnvError{err: leaf}
		}
		e.errs = append(e.errs, leaf)
	}
}

// Err returns every problem recorded, one message per bad variable, each
// starting with the variable's name (`REQUEST_DEADLINE="0s": want …`), or
// nil.
func (e *Env) Err() error { return errors.Join(e.errs...) }

// EnvError is a bad environment variable: a problem of the deployment,
// not of any one source, which the pipeline reports once however many
// sources read the variable.
type EnvError struct{ err error }

func (e *EnvError) Error() string { return e.err.Error() }
func (e *EnvError) Unwrap() error { return e.err }
