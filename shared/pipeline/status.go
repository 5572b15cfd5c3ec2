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

// refusedBy names the check that refused a request, for its log line:
// "" for errors that are not a refusal of the request (ours, 5xx).
func refusedBy(err error) string {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, ErrUnknownSource):
		return "source"
	case errors.Is(err, ErrMethod):
		return "method"
	case errors.As(err, &tooLarge):
		return "body_limit"
	case errors.Is(err, ErrForbiddenAddress):
		return "allow_cidrs"
	case errors.Is(err, handshake.ErrRefused), errors.Is(err, handshake.ErrMalformed):
		return "handshake"
	case errors.Is(err, verify.ErrMissingHeader):
		return "missing_header"
	case errors.Is(err, verify.ErrMalformedHeader):
		return "malformed_header"
	case errors.Is(err, verify.ErrTooOld), errors.Is(err, verify.ErrTooNew):
		return "timestamp_tolerance"
	case errors.Is(err, verify.ErrUnknownKey):
		return "unknown_signing_key"
	case errors.Is(err, verify.ErrUntrustedKeyURL):
		return "untrusted_key_url"
	case errors.Is(err, verify.ErrBadSignature):
		return "signature"
	case errors.Is(err, ErrReadBody), errors.Is(err, ErrMalformedBody):
		return "body"
	case errors.Is(err, ErrMalformedIdentity):
		return "identity"
	case errors.Is(err, ErrContentType):
		return "content_type"
	case errors.Is(err, ErrContentEncoding):
		return "content_encoding"
	case errors.Is(err, pattern.ErrUnprocessable):
		return "rules"
	}
	return ""
}

// status is the one place that maps an error to the HTTP answer: the
// status, how long a provider should wait before retrying (0 for none) and
// a short public message. Clients get the message; logs get the detail.
//
// The contract, documented in the README: 2xx only after the work is done;
// 4xx when the request itself is wrong; 503 with Retry-After when we or a
// dependency failed and a retry can succeed. A secret that cannot be read is
// a 503, never a 401: some providers disable endpoints that keep answering
// 401.
func (h *Handler) status(err error) (int, time.Duration, string) {
	var retryable *pattern.RetryableError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, ErrUnknownSource):
		return http.StatusNotFound, 0, "unknown source"
	case errors.Is(err, ErrMethod):
		return http.StatusMethodNotAllowed, 0, "method not allowed"
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, 0, "body too large"
	case errors.Is(err, ErrForbiddenAddress), errors.Is(err, handshake.ErrRefused):
		return http.StatusForbidden, 0, "forbidden"
	case errors.Is(err, verify.ErrSecretUnavailable):
		return http.StatusServiceUnavailable, h.opts.RetryAfter, "temporarily unavailable"
	case errors.Is(err, verify.ErrMissingHeader), errors.Is(err, verify.ErrMalformedHeader),
		errors.Is(err, verify.ErrBadSignature), errors.Is(err, verify.ErrTooOld),
		errors.Is(err, verify.ErrTooNew), errors.Is(err, verify.ErrUnknownKey), errors.Is(err, verify.ErrUntrustedKeyURL):
		return http.StatusUnauthorized, 0, "verification failed"
	case errors.Is(err, ErrReadBody), errors.Is(err, ErrMalformedBody), errors.Is(err, ErrMalformedIdentity),
		errors.Is(err, handshake.ErrMalformed):
		return http.StatusBadRequest, 0, "malformed request"
	case errors.Is(err, ErrContentType):
		return http.StatusUnsupportedMediaType, 0, "unsupported content type"
	case errors.Is(err, ErrContentEncoding):
		return http.StatusUnsupportedMediaType, 0, "unsupported content encoding"
	case errors.Is(err, pattern.ErrUnprocessable):
		return http.StatusUnprocessableEntity, 0, "event cannot be processed"
	case errors.As(err, &retryable):
		after := retryable.After
		if after <= 0 {
			after = h.opts.RetryAfter
		}
		return http.StatusServiceUnavailable, after, "temporarily unavailable"
	case errors.Is(err, errPanic):
		return http.StatusInternalServerError, 0, "internal error"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, h.opts.RetryAfter, "temporarily unavailable"
	}
	// Anything unclassified is ours, and ours is retryable.
	return http.StatusServiceUnavailable, h.opts.RetryAfter, "temporarily unavailable"
}
