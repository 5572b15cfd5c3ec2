package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"

	"github.com/cloudhooks/webhooks/shared/pattern"
)

// maxMulticast is FCM's limit of tokens per SendEachForMulticast call;
// longer token lists are sent in chunks of this size.
const maxMulticast = 500

// sender is the part of the FCM client that Relay uses: *messaging.Client
// in production (and in tests, pointed at package fcmtest), the dry-run
// recorder in local runs.
type sender interface {
	Send(ctx context.Context, m *messaging.Message) (string, error)
	SendEachForMulticast(ctx context.Context, m *messaging.MulticastMessage) (*messaging.BatchResponse, error)
}

var _ sender = (*messaging.Client)(nil)

// errClass is what an FCM error means for the event.
type errClass int

const (
	// classRetryable: FCM, the network or our deadline failed; the
	// provider's retry can send (503).
	classRetryable errClass = iota
	// classToken: this registration token is permanently unusable
	// (UNREGISTERED, INVALID_ARGUMENT or SENDER_ID_MISMATCH for a token
	// target). Logged by hash; the event still succeeds.
	classToken
	// classInvalid: FCM (or the SDK's own check) rejects the message to a
	// topic or condition; retrying the same event cannot help (422).
	classInvalid
	// classDeployment: our credentials, project or APNs/Web Push keys are
	// wrong (UNAUTHENTICATED, PERMISSION_DENIED, THIRD_PARTY_AUTH_ERROR).
	// The operator can fix it, so the event is kept for a retry (503).
	classDeployment
)

// classify maps a send error to its class. tokenTarget says whether the
// message went to one registration token.
func classify(err error, tokenTarget bool) errClass {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		messaging.IsUnavailable(err), messaging.IsInternal(err), messaging.IsQuotaExceeded(err),
		errorutils.IsUnavailable(err), errorutils.IsInternal(err), errorutils.IsResourceExhausted(err),
		errorutils.IsDeadlineExceeded(err), errorutils.IsUnknown(err):
		return classRetryable
	case tokenTarget && (messaging.IsUnregistered(err) || messaging.IsInvalidArgument(err) ||
		messaging.IsSenderIDMismatch(err) || errorutils.IsInvalidArgument(err) || errorutils.IsNotFound(err)):
		return classToken
	case messaging.IsInvalidArgument(err) || errorutils.IsInvalidArgument(err) || errorutils.IsNotFound(err):
		return classInvalid
	case errorutils.HTTPResponse(err) == nil:
		// Not an answer from FCM nor a network failure: the SDK refused
		// the message before sending it.
		return classInvalid
	}
	return classDeployment
}

// retryAfter is FCM's Retry-After (seconds or an HTTP date) on err's
// response, zero when it sent none.
func retryAfter(err error, now time.Time) time.Duration {
	resp := errorutils.HTTPResponse(err)
	if resp == nil {
		return 0
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// tokenHash is how a registration token appears in logs: the first 12 hex
// digits of its SHA-256. Tokens address a person's device and are never
// logged; the hash lets an operator match a log line with a token they
// hold.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}

// deliver sends one delivery. It returns nil when FCM accepted the message
// (for a token list: at least one token, or none retryably failed), and
// otherwise an error classified for the pipeline: pattern.Retryable or
// pattern.Unprocessable. log carries the event's attributes.
func deliver(ctx context.Context, s sender, d *delivery, log *slog.Logger) error {
	if d.tokens == nil {
		_, err := s.Send(ctx, d.msg)
		if err == nil {
			return nil
		}
		return sendError(err, d, log)
	}
	return deliverMulticast(ctx, s, d, log)
}

// sendError turns a failed single send into the event's outcome.
func sendError(err error, d *delivery, log *slog.Logger) error {
	token := d.msg.Token != ""
	switch classify(err, token) {
	case classToken:
		log.Warn("relay: token rejected", "rule", d.rule.name, "token_sha256", tokenHash(d.msg.Token), "error", err.Error())
		return nil
	case classInvalid:
		return pattern.Unprocessable(fmt.Errorf("relay: %s: FCM rejected the message: %w", d.rule.name, err))
	case classDeployment:
		log.Error("relay: FCM refused our credentials or configuration", "rule", d.rule.name, "error", err.Error())
	}
	return pattern.Retryable(fmt.Errorf("relay: %s: send: %w", d.rule.name, err), retryAfter(err, time.Now()))
}

// deliverMulticast sends a token list in chunks of maxMulticast.
//
// Tokens that fail permanently are logged by hash and skipped. Tokens that
// fail retryably are a judgement call, since the claim covers the whole
// list: when no token at all got the message the event is retried (the
// retry sends to every token again, none of which received it); when some
// did, the retryable failures are logged and not retried, because a retry
// would buzz every phone that already received it. FCM's SDK has already
// retried UNAVAILABLE answers by then.
func deliverMulticast(ctx context.Context, s sender, d *delivery, log *slog.Logger) error {
	var (
		sent, permanent int
		retryable       []tokenError
		after           time.Duration
	)
	for start := 0; start < len(d.tokens); start += maxMulticast {
		chunk := d.tokens[start:min(start+maxMulticast, len(d.tokens))]
		mm := &messaging.MulticastMessage{
			Tokens:       chunk,
			Data:         d.msg.Data,
			Notification: d.msg.Notification,
			Android:      d.msg.Android,
			APNS:         d.msg.APNS,
			Webpush:      d.msg.Webpush,
		}
		br, err := s.SendEachForMulticast(ctx, mm)
		if err != nil {
			if sent == 0 && classify(err, false) == classRetryable {
				return pattern.Retryable(fmt.Errorf("relay: %s: multicast: %w", d.rule.name, err), retryAfter(err, time.Now()))
			}
			if sent == 0 {
				return pattern.Unprocessable(fmt.Errorf("relay: %s: multicast: %w", d.rule.name, err))
			}
			log.Error("relay: multicast chunk failed after others were sent; not retried",
				"rule", d.rule.name, "tokens", len(chunk), "error", err.Error())
			continue
		}
		sent += br.SuccessCount
		for i, r := range br.Responses {
			if r.Success {
				continue
			}
			h := tokenHash(chunk[i])
			switch classify(r.Error, true) {
			case classToken:
				permanent++
				log.Warn("relay: token rejected", "rule", d.rule.name, "token_sha256", h, "error", r.Error.Error())
			default:
				retryable = append(retryable, tokenError{hash: h, err: r.Error})
				after = max(after, retryAfter(r.Error, time.Now()))
			}
		}
	}
	if len(retryable) > 0 && sent == 0 {
		last := retryable[len(retryable)-1].err
		return pattern.Retryable(fmt.Errorf("relay: %s: every token failed (%d retryably), last: %w", d.rule.name, len(retryable), last), after)
	}
	for _, te := range retryable {
		log.Error("relay: token failed retryably after others were sent; not retried",
			"rule", d.rule.name, "token_sha256", te.hash, "error", te.err.Error())
	}
	if permanent > 0 || len(retryable) > 0 {
		log.Warn("relay: multicast partly failed", "rule", d.rule.name,
			"tokens", len(d.tokens), "sent", sent, "rejected", permanent, "failed", len(retryable))
	}
	return nil
}

// tokenError is one token's failure, the token kept only as its hash.
type tokenError struct {
	hash string
	err  error
}
