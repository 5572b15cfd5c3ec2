package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// errInFlight means another delivery of the same event is performing the
// action now.
var errInFlight = errors.New("trigger: another delivery of this event is performing the action")

// claimKey is the idempotency key of one action of one rule of one event.
// The "trigger/" prefix keeps Trigger's claims apart from Relay's in the
// shared collection; the event id comes last because it may contain "/".
func claimKey(source, rule, action, eventID string) string {
	return "trigger/" + source + "/" + rule + "/" + action + "/" + eventID
}

// perform runs one prepared action exactly once per event: claim, run
// with the retry policy, then complete (or release on failure so that a
// retry can act). answer is what the action's receiver answered (call);
// duplicate reports that the action was already done.
func perform(ctx context.Context, d *deps, inv invocation, a *action, c call) (answer string, duplicate bool, err error) {
	key := claimKey(inv.source, inv.rule, a.name, inv.event.ID)
	st, err := d.claims.Claim(ctx, key)
	if err != nil {
		return "", false, fmt.Errorf("trigger: claim: %w", err)
	}
	switch st {
	case idempotency.Done:
		return "", true, nil
	case idempotency.InFlight:
		return "", false, errInFlight
	}
	answer, err = a.run(ctx, d, inv, c)
	if err != nil {
		// The claim must go whatever ctx's state, or the retry would wait
		// for the lease.
		if rerr := d.claims.Release(context.WithoutCancel(ctx), key); rerr != nil {
			d.log.Error("trigger: release claim failed; the retry waits for the lease", append(inv.logAttrs(), "key", key, "error", rerr.Error())...)
		}
		return "", false, err
	}
	if cerr := d.claims.Complete(context.WithoutCancel(ctx), key); cerr != nil {
		// The action is done: failing now would make it run again.
		d.log.Error("trigger: action done but could not mark it", append(inv.logAttrs(), "key", key, "error", cerr.Error())...)
	}
	return answer, false, nil
}

// runJob runs one queued job. raw is the job's message data, sent on to
// the dead-letter topic when the action fails permanently (nil for the
// in-process queue, which only logs). A nil error means the job is
// finished with: done, duplicate, refused or dead-lettered.
//
// Each job ends in one line logged with ctx (so that a tapped context,
// the local runner's inspector, sees it) whose result is resultRan (with
// the action's answer), resultDuplicate, resultFailed, resultDeadLettered
// or resultRefused, and whose rule and action name the job.
//
// The job's rule must still match the job's event (its events and
// condition, evaluated again here): a job is only ever an action that its
// rule chose for its event, whoever queued it.
func runJob(ctx context.Context, d *deps, src *source, j *job, raw []byte) error {
	log := d.log.With(logging.FieldFunction, functionWorker, logging.FieldSource, j.Event.Source, logging.FieldEventID, j.Event.ID,
		logging.FieldEventType, j.Event.Type, "rule", j.Rule, "action", j.Action, "attempt", j.Attempt)
	r := src.byName[j.Rule]
	var a *action
	if r != nil {
		a = r.byName[j.Action]
	}
	if a == nil {
		// The configuration changed since the job was queued.
		return deadLetter(ctx, d, j, raw, log, fmt.Errorf("no rule %q with action %q in source %q", j.Rule, j.Action, src.name))
	}
	vars, err := j.Event.Vars()
	if err != nil {
		return refuse(ctx, log, fmt.Errorf("event: %w", err))
	}
	switch ok, err := r.match(j.Event.Type, vars); {
	case err != nil:
		return refuse(ctx, log, fmt.Errorf("rule %q: %w", r.name, err))
	case !ok:
		return refuse(ctx, log, fmt.Errorf("%w: rule %q", errRuleNoLongerMatches, r.name))
	}
	c, err := a.impl.prepare(j.Event, vars)
	if err != nil {
		return deadLetter(ctx, d, j, raw, log, fmt.Errorf("action %q: %w", a.name, err))
	}
	inv := newInvocation(functionWorker, src.name, r.name, a.name, j.Event)
	answer, dup, err := perform(ctx, d, inv, a, c)
	switch {
	case err == nil && dup:
		log.InfoContext(ctx, "trigger: job", "result", resultDuplicate)
		return nil
	case err == nil:
		log.InfoContext(ctx, "trigger: job", "result", ResultRan, "answer", answer)
		return nil
	case errors.Is(err, errPermanent):
		return deadLetter(ctx, d, j, raw, log, err)
	default:
		log.WarnContext(ctx, "trigger: job failed; Pub/Sub redelivers it", "result", resultFailed, "error", err.Error())
		return err
	}
}

// The results of a job that did not run to the end, beside ResultRan and
// resultDuplicate: resultFailed may pass on a redelivery, resultDeadLettered
// cannot (the job goes to the dead-letter topic), and resultRefused is a
// job the worker will not run.
const (
	resultFailed       = "failed"
	resultDeadLettered = "dead-lettered"
)

// errRuleNoLongerMatches refuses a job whose rule does not match its
// event: the event is not one the rule acts on (or the rule changed since).
var errRuleNoLongerMatches = errors.New("the rule does not match the job's event")

// resultRefused is the result of a job that the worker will not run: not
// a signed job, not pushed by the push identity, or an event its rule does
// not match. It is acknowledged, so never retried, and not dead-lettered,
// so never replayed.
const resultRefused = "refused"

// refuse logs a job that is acknowledged without running.
func refuse(ctx context.Context, log *slog.Logger, reason error) error {
	log.ErrorContext(ctx, "trigger: job", "result", resultRefused, "reason", reason.Error())
	return nil
}

// deadLetter sends a job that no redelivery can fix to the dead-letter
// topic at once, instead of letting Pub/Sub try it N times; Replay brings
// it back once its cause is fixed. It returns nil once the dead-letter
// topic has it, and an error (so Pub/Sub redelivers) otherwise.
func deadLetter(ctx context.Context, d *deps, j *job, raw []byte, log *slog.Logger, cause error) error {
	log.ErrorContext(ctx, "trigger: job failed permanently; dead-lettered", "result", resultDeadLettered, "error", cause.Error())
	if d.deadLetter == nil || raw == nil {
		return nil
	}
	attrs := j.attributes()
	attrs[attrSignature] = j.sig // Replay's republished job is checked again
	attrs[attrError] = truncate(cause.Error(), 1024)
	if _, err := d.deadLetter.Publish(ctx, &pubsub.Message{Data: raw, Attributes: attrs}).Get(ctx); err != nil {
		return fmt.Errorf("trigger: dead-letter job: %w (after: %w)", err, cause)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// pushMessage is the data of the worker's CloudEvent: Pub/Sub's push body
// (and Eventarc's MessagePublishedData) with the job in message.data.
type pushMessage struct {
	Message struct {
		Data       []byte            `json:"data"`
		Attributes map[string]string `json:"attributes"`
		MessageID  string            `json:"messageId"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// worker runs the jobs of every trigger source of the configuration.
type worker struct {
	mu      sync.Mutex
	sources map[string]*source
	load    func() (map[string]*source, error)
	deps    func(ctx context.Context) (*deps, error)
	// push checks the OIDC token of the deployed worker's pushes; made
	// on first use (pushVerifier).
	push *verify.Verifier
}

// processWorker is the TriggerWorker function's state.
var processWorker = &worker{load: sourcesFromConfig, deps: processDeps}

// sourcesFromConfig compiles the trigger sources of the configuration
// file, as the Trigger function does.
func sourcesFromConfig() (map[string]*source, error) {
	f, err := config.Load(lookupEnv)
	if err != nil {
		return nil, err
	}
	fn := f.Function("trigger")
	if fn == nil {
		return nil, errors.New("trigger: the configuration has no trigger section")
	}
	settings, err := processSettings()
	if err != nil {
		return nil, err
	}
	out := map[string]*source{}
	var errs []error
	for i, s := range fn.Sources {
		src, err := compileSource(s, settings.Claims.Lease)
		if err != nil {
			errs = append(errs, fn.Located(i, err))
			continue
		}
		out[s.Name] = src
	}
	return out, errors.Join(errs...)
}

func (w *worker) source(name string) (*source, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sources == nil {
		s, err := w.load()
		if err != nil {
			return nil, err
		}
		w.sources = s
	}
	return w.sources[name], nil
}

// handle runs the job in one pushed message, once its signature is
// checked. A nil error acknowledges the message; an error makes Pub/Sub
// redeliver it with backoff, until the subscription's dead-letter policy
// moves it to the dead-letter topic. The push request itself is checked
// before (push.go).
func (w *worker) handle(ctx context.Context, data []byte) error {
	d, err := w.deps(ctx)
	if err != nil {
		return err
	}
	log := d.log.With(logging.FieldFunction, functionWorker)
	var m pushMessage
	if err := json.Unmarshal(data, &m); err != nil {
		// Not a Pub/Sub message: redelivering cannot help.
		return refuse(ctx, log, fmt.Errorf("not a Pub/Sub push: %w", err))
	}
	log = log.With("message_id", m.Message.MessageID)
	switch err := d.jobKey.check(ctx, m.Message.Data, m.Message.Attributes[attrSignature]); {
	case errors.Is(err, errJobKeyUnavailable):
		log.Error("trigger worker: cannot check the job's signature; Pub/Sub redelivers it", "error", err.Error())
		return err
	case err != nil:
		return refuse(ctx, log, err)
	}
	var j job
	if err := json.Unmarshal(m.Message.Data, &j); err != nil || j.Event == nil {
		return refuse(ctx, log, errors.New("signed, but not a job"))
	}
	j.Attempt = attemptOf(m.Message.Attributes)
	j.sig = m.Message.Attributes[attrSignature]
	src, err := w.source(j.Event.Source)
	if err != nil {
		return fmt.Errorf("trigger worker: configuration: %w", err)
	}
	if src == nil {
		src = &source{name: j.Event.Source}
	}
	return runJob(ctx, d, src, &j, m.Message.Data)
}

// deadLetterAttrPrefix starts the attributes Pub/Sub adds to a
// dead-lettered message; Replay drops them.
const deadLetterAttrPrefix = "CloudPubSubDeadLetter"

// replayBatch is how many messages Replay pulls at a time.
const replayBatch = 100

// replayWait is how long Replay waits for a pull to return messages before
// taking the subscription as drained.
const replayWait = 3 * time.Second

// Replay moves up to max jobs from the dead-letter subscription back to
// the jobs topic (both a short id in the client's project or a full
// resource name), counting each job's Attempt up, and returns how many it
// moved. A message is acknowledged on the dead-letter subscription only
// after its republish was acknowledged, so a failure loses nothing: run
// Replay again. It stops when the subscription has nothing more to give.
func Replay(ctx context.Context, client *pubsub.Client, deadLetterSubscription, jobsTopic string, max int) (int, error) {
	sub := deadLetterSubscription
	if !strings.HasPrefix(sub, "projects/") {
		sub = "projects/" + client.Project() + "/subscriptions/" + sub
	}
	pub := client.Publisher(jobsTopic)
	pub.EnableMessageOrdering = true
	defer pub.Stop()
	moved := 0
	for moved < max {
		// Not ReturnImmediately: Pub/Sub may then answer nothing while
		// messages wait. A pull that finds nothing within replayWait means
		// the subscription is drained.
		pullCtx, cancel := context.WithTimeout(ctx, replayWait)
		resp, err := client.SubscriptionAdminClient.Pull(pullCtx, &pubsubpb.PullRequest{
			Subscription: sub,
			MaxMessages:  int32(min(max-moved, replayBatch)),
		})
		cancel()
		drained := err == nil && len(resp.GetReceivedMessages()) == 0
		if err != nil && ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded) {
			drained = true
		}
		if drained {
			return moved, nil
		}
		if err != nil {
			return moved, fmt.Errorf("trigger.Replay: pull %s: %w", sub, err)
		}
		for _, rm := range resp.GetReceivedMessages() {
			msg := replayMessage(rm.GetMessage())
			if _, err := pub.Publish(ctx, msg).Get(ctx); err != nil {
				if msg.OrderingKey != "" {
					pub.ResumePublish(msg.OrderingKey)
				}
				_ = client.SubscriptionAdminClient.ModifyAckDeadline(context.WithoutCancel(ctx), &pubsubpb.ModifyAckDeadlineRequest{
					Subscription: sub, AckIds: unacked(resp.GetReceivedMessages(), rm.GetAckId()),
				})
				return moved, fmt.Errorf("trigger.Replay: republish to %s: %w", jobsTopic, err)
			}
			if err := client.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: []string{rm.GetAckId()}}); err != nil {
				// Republished but still on the dead-letter subscription: a
				// later replay republishes it again, which the claims make
				// harmless.
				return moved + 1, fmt.Errorf("trigger.Replay: acknowledge: %w", err)
			}
			moved++
		}
	}
	return moved, nil
}

// unacked returns the ack ids from the one given on, to hand back.
func unacked(msgs []*pubsubpb.ReceivedMessage, from string) []string {
	var ids []string
	found := false
	for _, m := range msgs {
		if m.GetAckId() == from {
			found = true
		}
		if found {
			ids = append(ids, m.GetAckId())
		}
	}
	return ids
}

// replayMessage turns a dead-lettered message back into a job message.
func replayMessage(m *pubsubpb.PubsubMessage) *pubsub.Message {
	attrs := maps.Clone(m.GetAttributes())
	for k := range attrs {
		if strings.HasPrefix(k, deadLetterAttrPrefix) || k == attrError {
			delete(attrs, k)
		}
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	// The data is signed and stays as it is; the attempt is outside it.
	attrs[attrAttempt] = strconv.Itoa(attemptOf(attrs) + 1)
	return &pubsub.Message{Data: m.GetData(), Attributes: attrs, OrderingKey: m.GetOrderingKey()}
}
