// Package relay is the Relay function: each verified webhook event that a
// source's rules match becomes a Firebase Cloud Messaging notification,
// sent exactly once however often the provider delivers the event.
//
// The shared pipeline verifies the request and builds the event; this
// package decides what to send (rules.go, message.go), claims the event so
// it is sent once (package idempotency), and sends it (send.go). Rules
// live under the source in shared/config/webhooks.yaml:
//
//	relay:
//	  sources:
//	    - name: stripe
//	      verify: {scheme: stripe, secret: sm:stripe-webhook-secret}
//	      rules:
//	        - name: payment-succeeded
//	          events: [payment_intent.succeeded]           # "payment_intent.*" a prefix, "*" every type
//	          condition: payload.data.object.amount >= 100 # CEL, optional
//	          to: {topic: payments}                      # or condition, token, tokens
//	          notification:
//	            title: Payment received
//	            body: "Payment of {{.payload.data.object.amount}} {{.payload.data.object.currency}} succeeded"
//	          data: {payment_intent: "{{.payload.data.object.id}}"}
//	          android: {priority: high, ttl: 1h, collapse_key: payments, sound: default}
//	          apns: {priority: high, sound: default}
//	          webpush: {urgency: high, link: "https://example.com/payments"}
//
// A rule's name, events and condition are written as Trigger's are (the
// grammar is condition.Rule's): the name is required, an events list is
// required ("*" for every type), and the former spellings types and when
// stop start-up with "did you mean" at their line. Every rule whose events
// and condition match the event sends its message (rules are not
// exclusive: write exclusive conditions to send only one).
// Rules are decoded strictly and compiled at start-up; an event that a
// matching rule cannot render is answered 422 and nothing is sent for it.
//
// Exactly once: before sending, each matching rule claims the key
// relay/<source>/<rule name>/<event id> (see claimKey). A claim already
// done answers 200 "duplicate"; a claim another delivery holds answers 503,
// so the provider comes back once that delivery has finished or failed
// (answering 200 instead would lose the event if that delivery failed); a
// send that fails releases the claim so the retry sends. Claims are keyed
// by the rule's name, so rules may be reordered while retries are pending;
// renaming a rule makes its pending events send again.
//
// Without GOOGLE_CLOUD_PROJECT, or with RELAY_DRY_RUN=1, nothing is sent:
// the messages are recorded in WEBHOOKS_DATA_DIR/relay/messages.ndjson and
// logged, and claims are kept in memory.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
)

// Results are the Outcome.Result words Relay answers with.
const (
	ResultSent      = "sent"
	resultDuplicate = "duplicate"
	resultIgnored   = "ignored"
)

// inFlightRetryAfter is the Retry-After of a 503 answered because another
// delivery of the same event holds its claim: about as long as a send
// takes, so the provider's retry usually finds it done.
const inFlightRetryAfter = 10 * time.Second

// errInFlight means another delivery of the event is sending it now.
var errInFlight = errors.New("relay: another delivery of this event is being sent")

// NewPattern compiles the source's relay rules (config.Source.Rules, raw
// JSON decoded from the `rules:` list of the source in
// shared/config/webhooks.yaml) and returns its pattern. Process-wide
// clients (FCM, Firestore) are built lazily once from the environment.
func NewPattern(ctx context.Context, src config.Source) (pattern.Pattern, error) {
	if _, err := processSettings(); err != nil {
		return nil, err
	}
	return newPattern(src, processDeps)
}

// relay is one source's pattern.
type relay struct {
	source string
	rules  []*rule
	deps   func(ctx context.Context) (*deps, error)
	now    func() time.Time
}

// deps are what a relay sends and claims with.
type deps struct {
	send        sender
	claims      idempotency.Store
	log         *slog.Logger
	sendTimeout time.Duration
}

// newPattern compiles src's rules; deps supplies the clients on first use.
// Its errors are left unwrapped, each starting with its field
// ("rules[0].events: …"), so that config.Function.Located places them at
// their line and column as it does Trigger's.
func newPattern(src config.Source, d func(ctx context.Context) (*deps, error)) (*relay, error) {
	rules, err := compileRules(src.Rules)
	if err != nil {
		return nil, err
	}
	return &relay{source: src.Name, rules: rules, deps: d, now: time.Now}, nil
}

// newPatternWith is newPattern with fixed clients, for tests.
func newPatternWith(src config.Source, d *deps) (*relay, error) {
	return newPattern(src, func(context.Context) (*deps, error) { return d, nil })
}

// claimKey is the idempotency key of one rule of one event. The "relay/"
// prefix keeps Relay's claims apart from Trigger's in the shared
// collection; the event id comes last because it may contain "/".
func claimKey(source, rule, eventID string) string {
	return "relay/" + source + "/" + rule + "/" + eventID
}

// Handle relays one verified event: match, render, then claim and send per
// rule.
func (p *relay) Handle(ctx context.Context, ev *event.Event) (pattern.Outcome, error) {
	if ev.ID == "" {
		return pattern.Outcome{}, pattern.Unprocessable(errors.New("relay: event has no id to claim"))
	}
	vars, err := ev.Vars()
	if err != nil {
		return pattern.Outcome{}, pattern.Unprocessable(fmt.Errorf("relay: %w", err))
	}
	plan, err := p.plan(ev, vars, p.now())
	if err != nil {
		return pattern.Outcome{}, pattern.Unprocessable(fmt.Errorf("relay source %q: %w", p.source, err))
	}
	if len(plan) == 0 {
		return pattern.Outcome{Result: resultIgnored}, nil
	}
	d, err := p.deps(ctx)
	if err != nil {
		return pattern.Outcome{}, pattern.Retryable(err, 0)
	}
	log := d.log.With(logging.FieldSource, ev.Source, logging.FieldEventID, ev.ID, logging.FieldEventType, ev.Type)
	sent := 0
	for _, dl := range plan {
		done, err := p.relayOne(ctx, d, ev, dl, log)
		if err != nil {
			return pattern.Outcome{}, err
		}
		if !done {
			sent++
		}
	}
	if sent == 0 {
		return pattern.Outcome{Result: resultDuplicate}, nil
	}
	return pattern.Outcome{Result: ResultSent}, nil
}

// relayOne claims and sends one delivery; duplicate reports that it was
// already done.
func (p *relay) relayOne(ctx context.Context, d *deps, ev *event.Event, dl *delivery, log *slog.Logger) (duplicate bool, err error) {
	key := claimKey(p.source, dl.rule.name, ev.ID)
	st, err := d.claims.Claim(ctx, key)
	if err != nil {
		return false, pattern.Retryable(fmt.Errorf("relay: claim: %w", err), 0)
	}
	switch st {
	case idempotency.Done:
		return true, nil
	case idempotency.InFlight:
		return false, pattern.Retryable(errInFlight, inFlightRetryAfter)
	}
	sendCtx, cancel := context.WithTimeout(withRecord(ctx, record{Source: p.source, Event: ev.ID, Rule: dl.rule.name}), d.sendTimeout)
	err = deliver(sendCtx, d.send, dl, log)
	cancel()
	if err != nil {
		// The claim must go whatever ctx's state, or the retry would wait
		// for the lease.
		if rerr := d.claims.Release(context.WithoutCancel(ctx), key); rerr != nil {
			log.Error("relay: release claim failed; the retry waits for the lease", "rule", dl.rule.name, "error", rerr.Error())
		}
		return false, err
	}
	if cerr := d.claims.Complete(context.WithoutCancel(ctx), key); cerr != nil {
		// The message is sent: answering an error now would make the
		// provider retry and, once the lease passes, send again.
		log.Error("relay: sent but could not mark done", "rule", dl.rule.name, "error", cerr.Error())
	}
	return false, nil
}
