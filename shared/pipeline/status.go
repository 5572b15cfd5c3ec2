package pipeline

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/verify"
	"github.com/cloudhooks/webhooks/shared/verify/handshake"
)

// Errors of the request itself, answered with a 4xx: retrying the same
// request cannot succeed.
var (
	// ErrUnknownSource: no source is configured at the request's path (404).
	ErrUnknownSource = errors.New("unknown source")
	// ErrMethod: the method is not POST and no GET handshake applies (405).
	ErrMethod = errors.New("method not allowed")
	// ErrForbiddenAddress: the client address is outside the source's
	// allowlist (403).
	ErrForbiddenAddress = errors.New("client address not allowed")
	// ErrReadBody: the body could not be read to its end (400).
	ErrReadBody = errors.New("body could not be read")
	// ErrMalformedBody: the body is not the JSON or form it claims to be
	// (400).
	ErrMalformedBody = errors.New("malformed body")
	// ErrContentType: the body is neither JSON nor form-encoded (415).
	ErrContentType = errors.New("unsupported content type")
	// ErrContentEncoding: the body is sent with a Content-Encoding other
	// than identity (415). The pipeline undoes none: the signature is over
	// the bytes sent, and reading compressed bytes as the event, or
	// decompressing them for one function and not another, would give one
	// request two readings.
	ErrContentEncoding = errors.New("unsupported content encoding")
	// ErrMalformedIdentity: an identity header (the event id, type or
	// schema version) is not UTF-8 text (400). It is refused, never
	// rewritten: U+FFFD in one function and the bytes in another would make
	// two events of one.
	ErrMalformedIdentity = errors.New("identity header is not UTF-8 text")
	// errPanic: a bug of ours, recovered at the edge (500).
	errPanic = errors.New("internal error")
)

// answer is what the pipeline does with an error: the HTTP status, the
// short public message, and refusedBy, the check that refused the request
// for its log line ("" for errors that are not a refusal of the request:
// ours, 5xx). retry says whether a Retry-After goes with it, key which of
// the source's secrets the refusing check compared the request with.
type answer struct {
	status    int
	public    string
	refusedBy string
	retry     retry
	key       key
}

// key is the secret that a refusing check compared the request with: in
// local mode the log line names its file (key_file), the one a developer
// checks when a provider's signature does not match.
type key int

const (
	// noKey: the check read no key (a missing header, a stale timestamp).
	noKey key = iota
	// signingKey: verify.secret.
	signingKey
	// handshakeKey: verify.handshake_secret, else verify.secret.
	handshakeKey
)

// retry is the Retry-After of an answer.
type retry int

const (
	// noRetry: the same request cannot succeed; no Retry-After.
	noRetry retry = iota
	// retryLater: Options.RetryAfter.
	retryLater
	// retryAsAsked: the wait a pattern.RetryableError names, else
	// Options.RetryAfter.
	retryAsAsked
)

// answers is the one ordered table that maps an error to its answer: the
// first row whose error the request's error matches (errors.Is, or
// errors.As for the two error types) decides both the status and the log
// line's refused_by. Anything unclassified is ours, and ours is
// retryable: unclassified.
//
// The contract, documented in the README: 2xx only after the work is done;
// 4xx when the request itself is wrong; 503 with Retry-After when we or a
// dependency failed and a retry can succeed. A secret that cannot be read is
// a 503, never a 401: some providers disable endpoints that keep answering
// 401.
var answers = []struct {
	is func(error) bool
	answer
}{
	{is(ErrUnknownSource), answer{http.StatusNotFound, "unknown source", "source", noRetry, noKey}},
	{is(ErrMethod), answer{http.StatusMethodNotAllowed, "method not allowed", "method", noRetry, noKey}},
	{as[*http.MaxBytesError], answer{http.StatusRequestEntityTooLarge, "body too large", "body_limit", noRetry, noKey}},
	{is(ErrForbiddenAddress), answer{http.StatusForbidden, "forbidden", "allow_cidrs", noRetry, noKey}},
	{is(handshake.ErrRefused), answer{http.StatusForbidden, "forbidden", "handshake", noRetry, handshakeKey}},
	{is(verify.ErrSecretUnavailable), unclassified},
	{is(verify.ErrMissingHeader), answer{http.StatusUnauthorized, "verification failed", "missing_header", noRetry, noKey}},
	{is(verify.ErrMalformedHeader), answer{http.StatusUnauthorized, "verification failed", "malformed_header", noRetry, noKey}},
	{is(verify.ErrTooOld, verify.ErrTooNew), answer{http.StatusUnauthorized, "verification failed", "timestamp_tolerance", noRetry, noKey}},
	{is(verify.ErrUnknownKey), answer{http.StatusUnauthorized, "verification failed", "unknown_signing_key", noRetry, noKey}},
	{is(verify.ErrUntrustedKeyURL), answer{http.StatusUnauthorized, "verification failed", "untrusted_key_url", noRetry, noKey}},
	{is(verify.ErrBadSignature), answer{http.StatusUnauthorized, "verification failed", "signature", noRetry, signingKey}},
	{is(ErrReadBody, ErrMalformedBody), answer{http.StatusBadRequest, "malformed request", "body", noRetry, noKey}},
	{is(ErrMalformedIdentity), answer{http.StatusBadRequest, "malformed request", "identity", noRetry, noKey}},
	{is(handshake.ErrMalformed), answer{http.StatusBadRequest, "malformed request", "handshake", noRetry, noKey}},
	{is(ErrContentType), answer{http.StatusUnsupportedMediaType, "unsupported content type", "content_type", noRetry, noKey}},
	{is(ErrContentEncoding), answer{http.StatusUnsupportedMediaType, "unsupported content encoding", "content_encoding", noRetry, noKey}},
	{is(pattern.ErrUnprocessable), answer{http.StatusUnprocessableEntity, "event cannot be processed", "rules", noRetry, noKey}},
	{as[*pattern.RetryableError], answer{http.StatusServiceUnavailable, "temporarily unavailable", "", retryAsAsked, noKey}},
	{is(errPanic), answer{http.StatusInternalServerError, "internal error", "", noRetry, noKey}},
	{is(context.DeadlineExceeded, context.Canceled), unclassified},
}

// unclassified is the answer to an error of ours or of a dependency.
var unclassified = answer{http.StatusServiceUnavailable, "temporarily unavailable", "", retryLater, noKey}

// is matches an error that is any of targets.
func is(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

// as matches an error that holds an error of type T.
func as[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// answerTo is the row of answers that err matches first.
func answerTo(err error) answer {
	for _, row := range answers {
		if row.is(err) {
			return row.answer
		}
	}
	return unclassified
}

// status is the HTTP answer to err: the status, how long a provider should
// wait before retrying (0 for none) and a short public message. Clients get
// the message; logs get the detail.
func (h *Handler) status(err error) (int, time.Duration, string) {
	a := answerTo(err)
	switch a.retry {
	case noRetry:
		return a.status, 0, a.public
	case retryAsAsked:
		var retryable *pattern.RetryableError
		if errors.As(err, &retryable) && retryable.After > 0 {
			return a.status, retryable.After, a.public
		}
	}
	return a.status, h.opts.RetryAfter, a.public
}
