// Package trigger is the Trigger function: a verified webhook event runs
// the actions its source's rules choose (deploy staging on a push to main
// through Cloud Build, call an HTTP endpoint, publish to Pub/Sub), either
// in the request or through a Pub/Sub job queue worked by TriggerWorker.
//
// The shared pipeline verifies the request and builds the event; this
// package matches rules (rules.go, CEL conditions from package condition),
// then runs each matching rule's actions (httpaction.go, pubsubaction.go,
// cloudbuild.go) or queues them (queue.go) for the worker (worker.go).
// Rules live under the source in shared/config/webhooks.yaml:
//
//	trigger:
//	  sources:
//	    - name: github
//	      verify: {scheme: github, secret: sm:github-webhook-secret}
//	      rules:
//	        - name: deploy-staging
//	          events: [push]                                  # "pull_request*" a prefix, "*" every type
//	          condition: payload.ref == "refs/heads/main"     # CEL, optional
//	          mode: async                                     # default; or sync
//	          serialize_by: payload.repository.full_name      # CEL or template, optional
//	          actions:
//	            - name: build
//	              type: cloudbuild
//	              trigger: deploy-staging
//	              substitutions: {_COMMIT: "{{.payload.after}}"}
//	              timeout: 30s
//	              retry: {max_attempts: 5, initial_backoff: 1s, max_backoff: 30s}
//
// An http action's url template has a literal scheme, host and port, and
// its values are path- or query-escaped (render.ParseURL); its body is
// JSON with JSON-encoded values unless a literal Content-Type says
// otherwise (render.ParseJSON), or form-encoded with query-escaped values
// when it says application/x-www-form-urlencoded (render.ParseForm). It
// connects to public addresses only, checked on every dial after DNS
// resolution, unless it sets allow_private_network: true.
//
// A cloudbuild action's substitutions and branch take values of
// substitutionChars only (render.ParseChecked), so that a build step that
// runs a substitution in a shell cannot be made to run an event's command;
// raw_substitutions lists the keys exempted, for steps that read them as
// data only.
//
// A rule's name, events and condition are written as Relay's are (the
// grammar is condition.Rule's): both required but the condition, "*" for
// every type, and Relay's former spellings types and when stop start-up
// with "did you mean" at their line. Every rule whose events and condition
// match runs (rules are not exclusive). A rule's templates are filled before anything runs: an event
// that a matching rule cannot fill is answered 422 and nothing is done.
//
// Sync rules run their actions in the request, one after the other, and
// answer 200 "ran" when all succeeded; a failure that a retry may fix
// answers 503 with Retry-After, one that it cannot (a 4xx answer, a
// missing trigger) 422. Async rules publish one job per action to the jobs
// topic and answer 202 "queued" only once Pub/Sub acknowledged every
// publish. TriggerWorker, fed by a push subscription to that topic, runs
// each job with the action's retry policy and returns an error when it
// still fails, so Pub/Sub redelivers it with backoff and, after the
// subscription's maximum delivery attempts, dead-letters it; Replay
// brings dead-lettered jobs back.
//
// A job proves where it came from before the worker runs it: Trigger signs
// it with the job key (jobkey.go: HMAC-SHA256 under a secret only Trigger
// and TriggerWorker can read), the push request carries the push
// identity's OIDC token (push.go), and the job's rule must still match the
// job's event. A job that fails any of these is acknowledged and logged
// with result "refused": never run, never redelivered, never
// dead-lettered. Who may publish to the jobs topic or invoke the worker is
// then no longer who may run an action.
//
// serialize_by runs a rule's actions one at a time per key (per
// repository: two quick pushes never deploy concurrently, the later last):
// an in-process lock in sync mode, the Pub/Sub ordering key in async mode
// (the subscription must enable message ordering).
//
// Each action runs at most once per event however often the provider
// delivers it: it claims claimKey in the idempotency store (Firestore) and
// its receivers get outgoingID, scoped to the source, rule and action, to
// dedupe by (http: Idempotency-Key and webhook-id; pubsub: the
// attrIdempotencyKey attribute).
//
// Local runs: without GOOGLE_CLOUD_PROJECT, cloudbuild actions are
// recorded in WEBHOOKS_DATA_DIR/trigger/actions.ndjson instead of run. With
// PUBSUB_EMULATOR_HOST, jobs and pubsub actions go to the emulator
// (SetUpEmulator creates the topics and the push subscription to
// PushHandler); without it either, pubsub actions are recorded too and
// async jobs run on an in-process queue that is NOT durable (queued jobs
// are lost when the process exits).
package trigger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/pattern"
)

// Results are the Outcome.Result words Trigger answers with.
const (
	ResultRan       = "ran"
	resultQueued    = "queued"
	resultDuplicate = "duplicate"
	resultIgnored   = "ignored"
)

// inFlightRetryAfter is the Retry-After of a 503 answered because another
// delivery of the same event is performing an action: about as long as an
// action takes.
const inFlightRetryAfter = 10 * time.Second

// NewPattern compiles the source's trigger rules (config.Source.Rules: raw
// JSON of the source's `rules:` list in shared/config/webhooks.yaml) and
// returns its pattern. Process-wide clients are built lazily once from the
// environment.
func NewPattern(ctx context.Context, src config.Source) (pattern.Pattern, error) {
	// The claims' settings are read now, so that a bad one fails the
	// revision rather than every event's first action.
	settings, err := processSettings()
	if err != nil {
		return nil, err
	}
	s, err := compileSource(src, settings.Claims.Lease)
	if err != nil {
		return nil, err
	}
	return &trigger{src: s, deps: processDeps}, nil
}

// source is one source's compiled rules.
type source struct {
	name   string
	rules  []*rule
	byName map[string]*rule
}

// compileSource compiles a source's rules; no action may outlast lease,
// the claims' lease.
func compileSource(src config.Source, lease time.Duration) (*source, error) {
	rules, err := compileRules(src.Rules, lease)
	if err != nil {
		return nil, err
	}
	s := &source{name: src.Name, rules: rules, byName: map[string]*rule{}}
	for _, r := range rules {
		s.byName[r.name] = r
	}
	return s, nil
}

// match returns the rules an event meets, in configuration order.
func (s *source) match(typ string, vars event.Vars) ([]*rule, error) {
	var out []*rule
	for _, r := range s.rules {
		ok, err := r.match(typ, vars)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// trigger is one source's pattern.
type trigger struct {
	src  *source
	deps func(ctx context.Context) (*deps, error)
}

// plan is one matching rule, filled for one event.
type plan struct {
	rule  *rule
	key   string // the serialization key, empty without serialize_by
	calls []call // per action, in order
}

// Handle runs or queues the actions of every rule the event matches.
func (t *trigger) Handle(ctx context.Context, ev *event.Event) (pattern.Outcome, error) {
	if ev.ID == "" {
		return pattern.Outcome{}, pattern.Unprocessable(errors.New("trigger: event has no id to claim"))
	}
	vars, err := ev.Vars()
	if err != nil {
		return pattern.Outcome{}, pattern.Unprocessable(fmt.Errorf("trigger: %w", err))
	}
	plans, err := t.plan(ev, vars)
	if err != nil {
		return pattern.Outcome{}, pattern.Unprocessable(fmt.Errorf("trigger source %q: %w", t.src.name, err))
	}
	if len(plans) == 0 {
		return pattern.Outcome{Result: resultIgnored}, nil
	}
	d, err := t.deps(ctx)
	if err != nil {
		return pattern.Outcome{}, pattern.Retryable(err, 0)
	}
	var queued, ran, dups int
	// Queue first: it is quick, and a sync failure below makes the
	// provider retry the whole event, whose jobs the claims then dedupe.
	for _, p := range plans {
		if !p.rule.async {
			continue
		}
		for _, a := range p.rule.actions {
			q := queuedJob{job: &job{Event: ev, Rule: p.rule.name, Action: a.name, Attempt: 1}, key: p.key, src: t.src}
			if err := d.jobs.enqueue(ctx, q); err != nil {
				return pattern.Outcome{}, pattern.Retryable(fmt.Errorf("trigger: rule %q action %q: %w", p.rule.name, a.name, err), 0)
			}
			queued++
		}
	}
	for _, p := range plans {
		if p.rule.async {
			continue
		}
		r, dd, err := t.runSync(ctx, d, ev, p)
		ran, dups = ran+r, dups+dd
		if err != nil {
			return pattern.Outcome{}, classify(err)
		}
	}
	d.log.Debug("trigger: handled", "source", ev.Source, "id", ev.ID, "type", ev.Type,
		"rules", len(plans), "queued", queued, "ran", ran, "duplicate", dups)
	switch {
	case queued > 0:
		return pattern.Outcome{Status: 202, Result: resultQueued}, nil
	case ran > 0:
		return pattern.Outcome{Status: 200, Result: ResultRan}, nil
	default:
		return pattern.Outcome{Status: 200, Result: resultDuplicate}, nil
	}
}

// plan matches the rules and fills their templates and keys.
func (t *trigger) plan(ev *event.Event, vars event.Vars) ([]plan, error) {
	rules, err := t.src.match(ev.Type, vars)
	if err != nil {
		return nil, err
	}
	plans := make([]plan, 0, len(rules))
	for _, r := range rules {
		p := plan{rule: r}
		if r.serialize != nil {
			v, err := r.serialize.eval(vars)
			if err != nil {
				return nil, fmt.Errorf("rule %q: %w", r.name, err)
			}
			p.key = orderingKey(t.src.name, r.name, v)
		}
		for _, a := range r.actions {
			c, err := a.impl.prepare(ev, vars)
			if err != nil {
				return nil, fmt.Errorf("rule %q action %q: %w", r.name, a.name, err)
			}
			p.calls = append(p.calls, c)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// runSync runs a sync rule's actions in order, under its key's lock.
func (t *trigger) runSync(ctx context.Context, d *deps, ev *event.Event, p plan) (ran, dups int, err error) {
	if p.key != "" {
		unlock, err := d.locks.lock(ctx, p.key)
		if err != nil {
			return 0, 0, err
		}
		defer unlock()
	}
	for i, a := range p.rule.actions {
		inv := newInvocation(functionTrigger, t.src.name, p.rule.name, a.name, ev)
		_, dup, err := perform(ctx, d, inv, a, p.calls[i])
		if err != nil {
			d.log.Error("trigger: action failed", append(inv.logAttrs(), "error", err.Error())...)
			return ran, dups, err
		}
		if dup {
			dups++
		} else {
			ran++
		}
	}
	return ran, dups, nil
}

// classify maps a sync action's failure to the pipeline's answer.
func classify(err error) error {
	switch {
	case errors.Is(err, errPermanent):
		return pattern.Unprocessable(err)
	case errors.Is(err, errInFlight):
		return pattern.Retryable(err, inFlightRetryAfter)
	default:
		return pattern.Retryable(err, 0)
	}
}
