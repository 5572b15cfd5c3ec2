package inspector

import (
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cloudhooks/webhooks/shared/logging"
)

// Job is what one job that a delivery queued did: a Trigger async rule's
// action, run by the in-process queue once the delivery was answered (or
// by /triggerworker, with the Pub/Sub emulator, whose delivery it then
// is). It is read from the job's last log line, which package trigger's
// runJob writes with the context of the request that queued the job.
type Job struct {
	Time   time.Time `json:"time"`
	Rule   string    `json:"rule"`
	Action string    `json:"action"`
	// Result is ran, duplicate, failed (a redelivery may pass),
	// dead-lettered (none can) or refused.
	Result string `json:"result"`
	// Answer is what the action's receiver answered, when it ran: the
	// HTTP status, the published message's or the build's id.
	Answer string `json:"answer,omitempty"`
	// Error says why it failed or was refused.
	Error string `json:"error,omitempty"`
}

// Limits of the jobs kept with one delivery.
const (
	// maxJobs is how many jobs a delivery keeps; it counts the others in
	// JobsNotShown.
	maxJobs = 32
	// maxJobText is the most of a job's answer or error kept.
	maxJobText = 1024
)

// workerFunction is the function field of the job lines: package
// trigger's functionWorker (functions/trigger/register.go).
const workerFunction = "TriggerWorker"

// jobOf reads a job's last line: a line of the worker (workerFunction)
// with a result. The worker's lines hold no secret value (package
// logging: callers never log one; an HTTP action's error and answer name
// the host, never the URL).
func jobOf(r slog.Record) (Job, bool) {
	j := Job{Time: r.Time.UTC()}
	var function string
	r.Attrs(func(a slog.Attr) bool {
		v := a.Value.String()
		switch a.Key {
		case logging.FieldFunction:
			function = v
		case "rule":
			j.Rule = v
		case "action":
			j.Action = v
		case "result":
			j.Result = v
		case "answer":
			j.Answer = clip(v, maxJobText)
		case "error", "reason":
			j.Error = clip(v, maxJobText)
		}
		return true
	})
	return j, function == workerFunction && j.Result != ""
}

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// addJob keeps j, or counts it once the delivery keeps maxJobs.
func (d *Delivery) addJob(j Job) {
	if len(d.Jobs) >= maxJobs {
		d.JobsNotShown++
		return
	}
	d.Jobs = append(d.Jobs, j)
}

// tap collects the log records of one request while it is served. The
// jobs the request queued may end after it was answered: tap passes
// their lines on to the delivery once it is listed.
type tap struct {
	i        *Inspector
	mu       sync.Mutex
	records  []slog.Record // until finished
	finished bool
	seq      int64 // the delivery's, once listed
	early    []Job // jobs ended between finished and listed
}

// record is the request context's log tap (logging.WithTap).
func (t *tap) record(r slog.Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.finished {
		t.records = append(t.records, r.Clone())
		return
	}
	j, ok := jobOf(r)
	switch {
	case !ok:
	case t.seq == 0:
		t.early = append(t.early, j)
	default:
		t.i.addJobs(t.seq, j)
	}
}

// finish returns the records logged while the request was served; the
// lines after it are jobs' only.
func (t *tap) finish() []slog.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finished = true
	records := t.records
	t.records = nil
	return records
}

// listed gives the jobs that end from now on to delivery seq.
func (t *tap) listed(seq int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq = seq
	if len(t.early) > 0 {
		t.i.addJobs(seq, t.early...)
		t.early = nil
	}
}

// addJobs records jobs of delivery seq, if it is still listed: the list
// holds a new copy (a listed delivery is never changed, so the page and
// the writer read it unlocked), which is written down again; the file's
// last line of a delivery is the one load keeps.
func (i *Inspector) addJobs(seq int64, jobs ...Job) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for n, d := range i.list {
		if d.Seq != seq {
			continue
		}
		c := *d
		c.Jobs = slices.Clone(d.Jobs)
		for _, j := range jobs {
			c.addJob(j)
		}
		i.list[n] = &c
		i.queue(&c)
		i.notify()
		return
	}
}
