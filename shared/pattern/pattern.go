// Package pattern is the contract between the request pipeline and the
// work a function does with a verified event (store, relay, trigger): a
// Pattern handles an event and says, through its Outcome or its error, what
// the pipeline answers. It depends on nothing but the event envelope, so the
// function packages and their tests build without the pipeline.
package pattern

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudhooks/webhooks/shared/event"
)

// Pattern is the work one function does with a verified event: store it,
// relay it, trigger actions from it.
//
// Handle returns only after the work is durably done (or durably queued);
// the pipeline answers 2xx only then. Errors are classified with Retryable
// and Unprocessable; any other error is answered as a retryable 503.
type Pattern interface {
	Handle(ctx context.Context, ev *event.Event) (Outcome, error)
}

// Func adapts a function to the Pattern interface.
type Func func(ctx context.Context, ev *event.Event) (Outcome, error)

// Handle calls f.
func (f Func) Handle(ctx context.Context, ev *event.Event) (Outcome, error) {
	return f(ctx, ev)
}

// Outcome is what a pattern did with an event that it handled.
type Outcome struct {
	// Status is the 2xx status to answer: 200 when zero. Async work that is
	// durably queued answers 202.
	Status int
	// Result is one word for the request log: "stored", "sent",
	// "duplicate", "queued", "ignored".
	Result string
}

// RetryableError is a failure of ours or of a dependency that a provider's
// retry can fix: answered 503 with Retry-After.
type RetryableError struct {
	// Err is what failed.
	Err error
	// After is how long the provider should wait; the pipeline's default
	// when zero.
	After time.Duration
}

// Error says that the failure is retryable, and what it was.
func (e *RetryableError) Error() string { return fmt.Sprintf("retryable: %v", e.Err) }

// Unwrap returns Err, so that errors.Is and errors.As see through.
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable marks err as fixable by a retry after the given wait (zero for
// the pipeline's default).
func Retryable(err error, after time.Duration) error {
	return &RetryableError{Err: err, After: after}
}

// ErrUnprocessable marks an event that is verified and well formed but that
// the pattern's configuration cannot handle (a relay rule whose template
// does not render): answered 422, retrying cannot help.
var ErrUnprocessable = errors.New("unprocessable event")

// Unprocessable wraps err so that errors.Is(err, ErrUnprocessable) holds.
func Unprocessable(err error) error {
	return fmt.Errorf("%w: %w", ErrUnprocessable, err)
}
