package trigger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/logging"
)

// performer is the type-specific part of an action: it fills the action's
// templates for one event and returns the call that performs it. Filling
// happens once per delivery, before any attempt, so that a template the
// event cannot fill fails without side effects.
type performer interface {
	prepare(ev *event.Event, vars event.Vars) (call, error)
}

// call performs an action once. It is called again on a retryable error.
// answer is what the action's receiver answered, as the job's log line
// says it: the HTTP status, the published message's id, the build's id.
type call func(ctx context.Context, d *deps, inv invocation) (answer string, err error)

// invocation names what a call is for.
type invocation struct {
	function             string // Trigger (sync rules) or TriggerWorker, for logs
	source, rule, action string
	event                *event.Event
	// idempotencyKey is the outgoingID that receivers dedupe by.
	idempotencyKey string
}

// newInvocation names one action of one rule of a source run for ev.
func newInvocation(function, source, rule, action string, ev *event.Event) invocation {
	return invocation{function: function, source: source, rule: rule, action: action, event: ev,
		idempotencyKey: outgoingID(source, rule, action, ev.ID)}
}

// outgoingID is the id an action's receivers see for one event: the
// Idempotency-Key and webhook-id of an http call, the attrIdempotencyKey
// attribute of a pubsub message. It is the SHA-256 of
// "<source>/<rule>/<action>/<event id>" in 64 hex digits: the same on every
// retry and redelivery, different for two sources (or rules, or actions)
// whatever event ids their senders choose, and of a fixed length that
// every receiver accepts. Source, rule and action names hold no "/", so
// only the event id, last, may: the string names one scope only.
func outgoingID(source, rule, action, eventID string) string {
	sum := sha256.Sum256([]byte(source + "/" + rule + "/" + action + "/" + eventID))
	return hex.EncodeToString(sum[:])
}

// logAttrs are the fields that name the invocation on a log line.
func (inv invocation) logAttrs() []any {
	return []any{logging.FieldFunction, inv.function, logging.FieldSource, inv.source,
		logging.FieldEventID, inv.event.ID, logging.FieldEventType, inv.event.Type, "rule", inv.rule, "action", inv.action}
}

// errPermanent marks an action failure that retrying cannot fix: a 4xx
// answer, a template the event cannot fill, a missing Cloud Build trigger.
// Sync rules answer it 422; the worker sends the job to the dead-letter
// topic without further attempts.
var errPermanent = errors.New("permanent action failure")

// permanent wraps err so that errors.Is(err, errPermanent) holds.
func permanent(err error) error { return fmt.Errorf("%w: %w", errPermanent, err) }

// retryPolicy is an action's retry policy within one delivery: up to
// maxAttempts attempts, waiting an exponentially growing, jittered backoff
// between them.
type retryPolicy struct {
	maxAttempts  int
	initial, max time.Duration
}

// backoff is the wait after the given failed attempt (1-based): the
// exponential step initial·2^(n-1) capped at max, with "equal jitter"
// (half fixed, half random) so that retries of many events spread out but
// never come back immediately.
func (p retryPolicy) backoff(n int) time.Duration {
	d := p.initial
	for i := 1; i < n && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	half := d / 2
	return half + rand.N(half+1)
}

// attemptError is the error of an action's last attempt.
type attemptError struct {
	action   string
	attempts int
	err      error
}

func (e *attemptError) Error() string {
	return fmt.Sprintf("action %q failed after %d attempt(s): %v", e.action, e.attempts, e.err)
}

func (e *attemptError) Unwrap() error { return e.err }

// run performs c under the action's timeout and retry policy. It returns
// the answer of the attempt that succeeds, and the last error when an
// attempt fails permanently, the attempts are used up or ctx ends.
func (a *action) run(ctx context.Context, d *deps, inv invocation, c call) (string, error) {
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, a.timeout)
		answer, err := c(actx, d, inv)
		if err != nil && actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			err = fmt.Errorf("timed out after %s: %w", a.timeout, err)
		}
		cancel()
		if err == nil {
			return answer, nil
		}
		if errors.Is(err, errPermanent) || n >= a.retry.maxAttempts || ctx.Err() != nil {
			return "", &attemptError{action: a.name, attempts: n, err: err}
		}
		wait := a.retry.backoff(n)
		d.log.Warn("trigger: action attempt failed; retrying",
			append(inv.logAttrs(), "attempt", n, "backoff", wait.String(), "error", err.Error())...)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", &attemptError{action: a.name, attempts: n, err: err}
		}
	}
}
