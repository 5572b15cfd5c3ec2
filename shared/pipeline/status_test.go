package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/verify"
	"github.com/cloudhooks/webhooks/shared/verify/handshake"
)

// Every error the request path produces is answered and logged by the
// contract: its status, Retry-After, public message and refused_by, read
// from one table. Each error is wrapped as the code wraps it, so that the
// table is matched with errors.Is and errors.As, never by message.
func TestEveryErrorIsAnsweredAndLoggedByTheContract(t *testing.T) {
	const (
		unavailable = "temporarily unavailable"
		verifyFails = "verification failed"
		malformed   = "malformed request"
	)
	h := &Handler{opts: Options{RetryAfter: 30 * time.Second}.withDefaults()}
	tests := []struct {
		name      string
		err       error
		status    int
		after     time.Duration
		public    string
		refusedBy string
	}{
		{"no source at the path", ErrUnknownSource, 404, 0, "unknown source", "source"},
		{"a method other than POST", ErrMethod, 405, 0, "method not allowed", "method"},
		{"a body above the limit", &http.MaxBytesError{Limit: 10}, 413, 0, "body too large", "body_limit"},
		{"an address outside the allowlist", ErrForbiddenAddress, 403, 0, "forbidden", "allow_cidrs"},
		{"a handshake with a wrong token", fmt.Errorf("crc: %w", handshake.ErrRefused), 403, 0, "forbidden", "handshake"},
		{"a secret that cannot be read", fmt.Errorf("%w: sm:x: boom", verify.ErrSecretUnavailable), 503, 30 * time.Second, unavailable, ""},
		{"a missing signature header", fmt.Errorf("github: %w: X-Hub-Signature-256", verify.ErrMissingHeader), 401, 0, verifyFails, "missing_header"},
		{"a header that does not parse", fmt.Errorf("github: %w", verify.ErrMalformedHeader), 401, 0, verifyFails, "malformed_header"},
		{"a stale timestamp", fmt.Errorf("stripe: %w", verify.ErrTooOld), 401, 0, verifyFails, "timestamp_tolerance"},
		{"a timestamp from the future", fmt.Errorf("stripe: %w", verify.ErrTooNew), 401, 0, verifyFails, "timestamp_tolerance"},
		{"a token under an unknown key", fmt.Errorf("oidc: %w", verify.ErrUnknownKey), 401, 0, verifyFails, "unknown_signing_key"},
		{"a certificate URL not trusted", fmt.Errorf("sns: %w", verify.ErrUntrustedKeyURL), 401, 0, verifyFails, "untrusted_key_url"},
		{"a signature under another key", fmt.Errorf("stripe: %w: no key of 1 matched", verify.ErrBadSignature), 401, 0, verifyFails, "signature"},
		{"a body cut short", fmt.Errorf("%w: %w", ErrReadBody, errors.New("unexpected EOF")), 400, 0, malformed, "body"},
		{"a body that is not JSON", fmt.Errorf("%w: %w", ErrMalformedBody, errors.New("syntax")), 400, 0, malformed, "body"},
		{"an id header that is not UTF-8", fmt.Errorf("%w: %q", ErrMalformedIdentity, "\xff"), 400, 0, malformed, "identity"},
		{"a handshake without its challenge", fmt.Errorf("url_verification: %w", handshake.ErrMalformed), 400, 0, malformed, "handshake"},
		{"a content type neither JSON nor form", fmt.Errorf("%w: %q", ErrContentType, "text/xml"), 415, 0, "unsupported content type", "content_type"},
		{"a compressed body", fmt.Errorf("%w: %q", ErrContentEncoding, "gzip"), 415, 0, "unsupported content encoding", "content_encoding"},
		{"an event the rules refuse", pattern.Unprocessable(errors.New("no such key: ref")), 422, 0, "event cannot be processed", "rules"},
		{"a dependency's outage with its wait", pattern.Retryable(errors.New("bigquery"), 7*time.Second), 503, 7 * time.Second, unavailable, ""},
		{"a dependency's outage without a wait", pattern.Retryable(errors.New("bigquery"), 0), 503, 30 * time.Second, unavailable, ""},
		{"a panic of ours", errPanic, 500, 0, "internal error", ""},
		{"the deadline", fmt.Errorf("store: %w", context.DeadlineExceeded), 503, 30 * time.Second, unavailable, ""},
		{"a cancelled request", context.Canceled, 503, 30 * time.Second, unavailable, ""},
		{"anything unclassified", errors.New("something of ours"), 503, 30 * time.Second, unavailable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, after, public := h.status(tt.err)
			if status != tt.status || after != tt.after || public != tt.public {
				t.Errorf("status(%v) = %d, %v, %q; want %d, %v, %q", tt.err, status, after, public, tt.status, tt.after, tt.public)
			}
			if got := answerTo(tt.err).refusedBy; got != tt.refusedBy {
				t.Errorf("refused_by of %v = %q, want %q", tt.err, got, tt.refusedBy)
			}
		})
	}
}
