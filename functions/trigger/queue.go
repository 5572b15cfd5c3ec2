package trigger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/cloudhooks/webhooks/shared/event"
)

// job is the message an async rule queues for one of its actions: the
// whole event envelope, so that the worker needs nothing but the message
// and the configuration. The message data is the job's JSON, signed as
// published (attrSignature, jobkey.go) and never changed afterwards.
type job struct {
	Event  *event.Event `json:"event"`
	Rule   string       `json:"rule"`
	Action string       `json:"action"`
	// Attempt is 1 when the job is first queued and grows by one each time
	// Replay republishes it from the dead-letter topic. Pub/Sub's own
	// redeliveries do not change it (they carry the same message). It
	// travels in the attrAttempt attribute, outside the signed data, so
	// that Replay, which holds no job key, can count it.
	Attempt int `json:"-"`
	// sig is the attrSignature the job was pushed with, kept when the
	// worker dead-letters it.
	sig string
}

// Attributes set on every job message, for filters and for people reading
// a dead-letter topic.
const (
	attrSource = "source"
	attrEvent  = "event_id"
	attrRule   = "rule"
	attrAction = "action"
	// attrAttempt is the job's Attempt, in decimal.
	attrAttempt = "attempt"
	// attrError is set on a job that the worker dead-letters itself after
	// a permanent failure: the error's text.
	attrError = "trigger_error"
)

func (j *job) attributes() map[string]string {
	return map[string]string{attrSource: j.Event.Source, attrEvent: j.Event.ID, attrRule: j.Rule, attrAction: j.Action,
		attrAttempt: strconv.Itoa(max(j.Attempt, 1))}
}

// attemptOf reads a message's attrAttempt: 1 when absent or unreadable
// (it only counts, it decides nothing).
func attemptOf(attrs map[string]string) int {
	n, err := strconv.Atoi(attrs[attrAttempt])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// queuedJob is a job on its way to a queue, with its ordering key and, for
// the in-process queue, the source whose rules run it.
type queuedJob struct {
	job *job
	key string
	src *source
}

// jobQueue takes async jobs. enqueue returns once the job is durably
// queued (Pub/Sub acknowledged the publish) or, for the in-process queue,
// accepted.
type jobQueue interface {
	enqueue(ctx context.Context, q queuedJob) error
}

// maxOrderingKey is Pub/Sub's limit on an ordering key, in bytes.
const maxOrderingKey = 1024

// orderingKey scopes a serialize_by value to its source and rule: rules
// serialize independently. A key too long for Pub/Sub is replaced by its
// hash, which serializes the same.
func orderingKey(source, rule, value string) string {
	k := source + "/" + rule + "/" + value
	if len(k) > maxOrderingKey {
		sum := sha256.Sum256([]byte(k))
		k = source + "/" + rule + "/sha256:" + hex.EncodeToString(sum[:])
		if len(k) > maxOrderingKey {
			k = "sha256:" + hex.EncodeToString(sum[:])
		}
	}
	return k
}

// pubSubJobs queues jobs on the jobs topic, each signed with the job key.
type pubSubJobs struct {
	pub *pubsub.Publisher
	key jobKey
}

// jobsDelayThreshold is how long the publisher waits to batch jobs: short,
// because every request waits for its own publish to be acknowledged.
const jobsDelayThreshold = time.Millisecond

func newPubSubJobs(client *pubsub.Client, topic string, key jobKey) *pubSubJobs {
	pub := client.Publisher(topic)
	pub.EnableMessageOrdering = true
	pub.PublishSettings.DelayThreshold = jobsDelayThreshold
	return &pubSubJobs{pub: pub, key: key}
}

func (p *pubSubJobs) enqueue(ctx context.Context, q queuedJob) error {
	data, err := json.Marshal(q.job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	sig, err := p.key.sign(ctx, data)
	if err != nil {
		return fmt.Errorf("sign job: %w", err)
	}
	attrs := q.job.attributes()
	attrs[attrSignature] = sig
	res := p.pub.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs, OrderingKey: q.key})
	if _, err := res.Get(ctx); err != nil {
		if q.key != "" {
			// A failed publish pauses its ordering key so that later jobs
			// cannot overtake it; the provider's retry publishes again.
			p.pub.ResumePublish(q.key)
		}
		return fmt.Errorf("publish job to %s: %w", p.pub, err)
	}
	return nil
}

// localWorkers is how many goroutines run the in-process queue.
const localWorkers = 4

// localQueueSize bounds each worker's backlog; beyond it enqueue fails and
// the provider retries later. Jobs of one serialize_by key share a worker,
// so a load run of `send` on one repository fills one backlog with every
// job it makes: sized for such runs (send -n 10000 makes up to two jobs
// per event with the sample rules), as Pub/Sub, which this stands for,
// holds any backlog.
const localQueueSize = 1 << 14

// errLocalQueueFull is the in-process queue's answer when it is full.
var errLocalQueueFull = errors.New("in-process job queue is full")

// localQueue runs jobs in this process, for local runs without Pub/Sub.
// It is NOT durable: queued jobs are lost when the process exits, and a job
// that fails after its retries is only logged. Jobs with the same ordering
// key go to the same goroutine, so they run one at a time, in order.
//
// A job runs with the values of the context that queued it, without its
// cancellation or deadline (the request has been answered by then): its
// log lines reach the request's log tap, so that the local runner's
// inspector shows what each job of a delivery did.
type localQueue struct {
	d      *deps
	shards []chan localJob
	next   atomic.Uint32
}

// localJob is a job on the in-process queue with the context it runs with.
type localJob struct {
	queuedJob
	ctx context.Context
}

func newLocalQueue(d *deps, n int) *localQueue {
	q := &localQueue{d: d}
	for range n {
		ch := make(chan localJob, localQueueSize)
		q.shards = append(q.shards, ch)
		go q.work(ch)
	}
	return q
}

func (q *localQueue) enqueue(ctx context.Context, j queuedJob) error {
	var i uint32
	if j.key != "" {
		h := fnv.New32a()
		h.Write([]byte(j.key))
		i = h.Sum32()
	} else {
		i = q.next.Add(1)
	}
	select {
	case q.shards[i%uint32(len(q.shards))] <- localJob{queuedJob: j, ctx: context.WithoutCancel(ctx)}:
		return nil
	default:
		return errLocalQueueFull
	}
}

func (q *localQueue) work(ch chan localJob) {
	for j := range ch {
		_ = runJob(j.ctx, q.d, j.src, j.job, nil)
	}
}
