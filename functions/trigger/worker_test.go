package trigger

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// pushBody is the body of a Pub/Sub push request carrying j, signed with
// key (unsigned when key is the zero jobKey), as Trigger publishes it.
func pushBody(t testing.TB, key jobKey, j *job) []byte {
	t.Helper()
	data, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	attrs := j.attributes()
	if key != (jobKey{}) {
		sig, err := key.sign(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		attrs[attrSignature] = sig
	}
	b, err := json.Marshal(map[string]any{"message": map[string]any{
		"data":        base64.StdEncoding.EncodeToString(data),
		"attributes":  attrs,
		"messageId":   "17",
		"publishTime": time.Now().UTC().Format(time.RFC3339Nano),
	}, "subscription": "projects/p/subscriptions/jobs"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWorkerRunsASignedJob(t *testing.T) {
	rcv := newReceiver(t, 503, 200)
	d, logs := testDeps(t)
	tr := newTrigger(t, fmt.Sprintf(asyncRule, rcv.srv.URL, rcv.srv.URL), d)
	w := &worker{load: func() (map[string]*source, error) { return map[string]*source{"src": tr.src}, nil },
		deps: func(context.Context) (*deps, error) { return d, nil }}
	ev := githubEvent(t, "push", "d-w")
	data := pushBody(t, testJobKey, &job{Event: ev, Rule: "deploy", Action: "call", Attempt: 2})

	if err := w.handle(context.Background(), data); err == nil {
		t.Fatal("the first delivery's action failed (503) but handle returned nil: Pub/Sub would not redeliver")
	}
	if err := w.handle(context.Background(), data); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if err := w.handle(context.Background(), data); err != nil {
		t.Fatalf("duplicate delivery: %v", err)
	}
	reqs, _ := rcv.got()
	if len(reqs) != 2 || reqs[1].Header.Get(headerIdempotencyKey) != outgoingID("src", "deploy", "call", "d-w") {
		t.Fatalf("receiver got %d calls, want 2 (fail, succeed; the duplicate skipped)", len(reqs))
	}
	if !strings.Contains(logs.String(), `"attempt":2`) || !strings.Contains(logs.String(), `"result":"duplicate"`) {
		t.Errorf("worker log lacks the attempt or the duplicate: %s", logs)
	}
}

func TestWorkerAcknowledgesWhatNoRedeliveryCanFix(t *testing.T) {
	d, _ := testDeps(t)
	tr := newTrigger(t, fmt.Sprintf(asyncRule, "http://127.0.0.1:9", "http://127.0.0.1:9"), d)
	w := &worker{load: func() (map[string]*source, error) { return map[string]*source{"src": tr.src}, nil },
		deps: func(context.Context) (*deps, error) { return d, nil }}
	ev := githubEvent(t, "push", "d1")
	tests := []struct {
		name string
		data []byte
	}{
		{"not JSON", []byte("{")},
		{"not a job", []byte(`{"message":{"data":"bm90IGpzb24="}}`)},
		{"a rule removed from the configuration", pushBody(t, testJobKey, &job{Event: ev, Rule: "gone", Action: "call", Attempt: 1})},
		{"an unknown source", pushBody(t, testJobKey, &job{Event: &ev2, Rule: "deploy", Action: "call", Attempt: 1})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := w.handle(context.Background(), tt.data); err != nil {
				t.Fatalf("handle = %v, want nil (acknowledged, logged)", err)
			}
		})
	}
}

// ev2 is an event of a source that the worker does not know.
var ev2 = event.Event{Source: "other", ID: "x", Payload: []byte(`{}`)}

func TestReplayedJobsCountTheAttemptAndLoseDeadLetterAttributes(t *testing.T) {
	j := job{Event: &ev2, Rule: "r", Action: "a", Attempt: 1}
	data, _ := json.Marshal(&j)
	sig, err := testJobKey.sign(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	m := replayMessage(&pubsubpb.PubsubMessage{Data: data, OrderingKey: "k", Attributes: map[string]string{
		attrRule: "r", attrSignature: sig, attrAttempt: "1", attrError: "status 400", "CloudPubSubDeadLetterSourceDeliveryCount": "5"}})
	if got := attemptOf(m.Attributes); got != 2 || m.OrderingKey != "k" {
		t.Errorf("replayed job attempt %d, ordering key %q; want 2, k", got, m.OrderingKey)
	}
	if len(m.Attributes) != 3 || m.Attributes[attrRule] != "r" {
		t.Errorf("attributes %v, want only the job's own", m.Attributes)
	}
	// The signed data is untouched: the worker still accepts the job.
	if err := testJobKey.check(context.Background(), m.Data, m.Attributes[attrSignature]); err != nil {
		t.Errorf("replayed job's signature: %v", err)
	}
}

func TestLocalRunsQueueAsyncJobsInProcess(t *testing.T) {
	rcv := newReceiver(t, 200)
	d, _ := testDeps(t)
	tr := newTrigger(t, fmt.Sprintf(asyncRule, rcv.srv.URL+"/a", rcv.srv.URL+"/b"), d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d-local"))
	wantStatus(t, out, err, 202, resultQueued)
	waitFor(t, 10*time.Second, "the in-process queue to run both jobs", func() bool {
		reqs, _ := rcv.got()
		return len(reqs) == 2
	})
	reqs, _ := rcv.got()
	// Both jobs share the repository's ordering key: they ran in order.
	if reqs[0].URL.Path != "/a" || reqs[1].URL.Path != "/b" {
		t.Errorf("ran %s then %s, want /a then /b", reqs[0].URL.Path, reqs[1].URL.Path)
	}
}

func TestSettingsChooseTheQueueFromTheEnvironment(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantPubSub bool
		project    string
	}{
		{"nothing set: local run, in-process queue", nil, false, LocalProject},
		{"emulator only: Pub/Sub in the local project", map[string]string{envPubSubEmulator: "127.0.0.1:8085"}, true, LocalProject},
		{"project: Pub/Sub", map[string]string{EnvProject: "p1", EnvJobsTopic: "jobs"}, true, "p1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := settingsFromEnv(mapLookup(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if s.PubSub != tt.wantPubSub || s.PubSubProject != tt.project {
				t.Errorf("settings %+v", s)
			}
		})
	}
}

func TestNewDepsPicksLocalStandInsOrPubSub(t *testing.T) {
	processSecrets = func() verify.SecretSource { return memSecrets{} }
	t.Cleanup(func() { processSecrets = defaultSecrets })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	local := map[string]string{envDataDir: t.TempDir()}
	d, err := newDeps(context.Background(), mustSettings(t, local), log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.jobs.(*localQueue); !ok {
		t.Errorf("local run queues on %T, want the in-process queue", d.jobs)
	}
	if _, ok := d.builds.(*recorder); !ok {
		t.Errorf("local run builds with %T, want the recorder", d.builds)
	}
	if _, ok := d.topics.(*recorder); !ok {
		t.Errorf("local run publishes with %T, want the recorder", d.topics)
	}
	// The sample's Cloud Build rule names no project: a local run records
	// the build under the stand-in project instead of failing it.
	tr := newTrigger(t, `
- name: deploy
  events: [push]
  mode: sync
  actions: [{name: build, type: cloudbuild, trigger: deploy-staging}]
`, d)
	if out, err := tr.Handle(context.Background(), githubEvent(t, "push", "local-build")); err != nil || out.Status != 200 {
		t.Fatalf("local cloudbuild action: %+v, %v", out, err)
	}
	recorded, err := os.ReadFile(filepath.Join(local[envDataDir], "trigger", "actions.ndjson"))
	if err != nil || !strings.Contains(string(recorded), "projects/"+LocalProject+"/locations/global/triggers/deploy-staging") {
		t.Errorf("recorded builds %q, %v", recorded, err)
	}

	// The client library reads the emulator's address itself; it does not
	// connect until the first call.
	t.Setenv(envPubSubEmulator, "127.0.0.1:1")
	emu := map[string]string{envPubSubEmulator: "127.0.0.1:1", envDataDir: t.TempDir()}
	d, err = newDeps(context.Background(), mustSettings(t, emu), log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.jobs.(*pubSubJobs); !ok {
		t.Errorf("emulator run queues on %T, want Pub/Sub", d.jobs)
	}
	if _, ok := d.topics.(*clientPublisher); !ok {
		t.Errorf("emulator run publishes with %T, want the Pub/Sub client", d.topics)
	}
	if _, ok := d.builds.(*recorder); !ok {
		t.Errorf("a run without a project builds with %T, want the recorder", d.builds)
	}
	if d.deadLetter == nil {
		t.Error("no dead-letter publisher with Pub/Sub")
	}
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// mustSettings reads the settings from env.
func mustSettings(t *testing.T, env map[string]string) settings {
	t.Helper()
	s, err := settingsFromEnv(mapLookup(env))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// setProcessEnv makes env the process's environment for the test: the
// settings are read from it afresh, and again from the real one after.
func setProcessEnv(t *testing.T, env map[string]string) {
	reread := func() {
		processSettings = sync.OnceValues(func() (settings, error) { return settingsFromEnv(lookupEnv) })
	}
	lookupEnv = mapLookup(env)
	reread()
	t.Cleanup(func() { lookupEnv = os.LookupEnv; reread() })
}

// A bad claim setting fails the source at start-up, not its first event.
func TestNewPatternRefusesBadClaimSettings(t *testing.T) {
	setProcessEnv(t, map[string]string{"IDEMPOTENCY_LEASE": "soon"})
	rules := json.RawMessage(`[{"name": "r", "events": ["push"], "actions": [{"name": "a", "type": "http", "url": "http://h/x"}]}]`)
	_, err := NewPattern(context.Background(), config.Source{Name: "github", Rules: rules})
	if err == nil || !strings.Contains(err.Error(), `IDEMPOTENCY_LEASE="soon"`) {
		t.Fatalf("NewPattern = %v, want an error naming IDEMPOTENCY_LEASE", err)
	}
}

// The worker's lines about a job name the event as the pipeline's
// request line does (function, source, event_id, event_type), so that one
// filter follows an event from its request to its last action.
func TestWorkerLinesUseTheRequestLinesVocabulary(t *testing.T) {
	rcv := newReceiver(t, 200)
	d, logs := testDeps(t)
	tr := newTrigger(t, fmt.Sprintf(asyncRule, rcv.srv.URL+"/a", rcv.srv.URL+"/b"), d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d-vocab"))
	wantStatus(t, out, err, 202, resultQueued)
	waitFor(t, 10*time.Second, "both jobs to be logged", func() bool { return strings.Count(logs.String(), `"trigger: job"`) == 2 })
	for line := range strings.Lines(logs.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] != "trigger: job" {
			continue
		}
		if m["function"] != functionWorker || m["source"] != "src" || m["event_id"] != "d-vocab" || m["event_type"] != "push" {
			t.Errorf("job line %s: want function %s, source, event_id and event_type", line, functionWorker)
		}
		if _, ok := m["id"]; ok {
			t.Errorf("job line %s uses id, not event_id", line)
		}
	}
}

// The request path's log name is the entry point init registers.
func TestLogNameIsTheRegisteredEntryPoint(t *testing.T) {
	if !slices.Contains(pipeline.Registered(), functionTrigger) {
		t.Errorf("%q is not registered: %v", functionTrigger, pipeline.Registered())
	}
}

// TestTheEnvironmentIsReadOnce proves Trigger's sources, the worker and
// the process's clients share one reading of the environment: each
// variable, the claim store's included, is looked up once however many
// sources start and run.
func TestTheEnvironmentIsReadOnce(t *testing.T) {
	processSecrets = func() verify.SecretSource { return memSecrets{} }
	dir := t.TempDir()
	var mu sync.Mutex
	reads := map[string]int{}
	counting := func(k string) (string, bool) {
		mu.Lock()
		reads[k]++
		mu.Unlock()
		v, ok := map[string]string{envDataDir: dir, EnvPushAudience: "https://w", EnvPushEmail: "p@x.iam.gserviceaccount.com"}[k]
		return v, ok
	}
	resetDeps := func() {
		process.mu.Lock()
		process.d = nil
		process.mu.Unlock()
	}
	resetDeps()
	setProcessEnv(t, nil)
	lookupEnv = counting
	t.Cleanup(func() { processSecrets = defaultSecrets; resetDeps() })
	rules := json.RawMessage(`[{"name": "r", "events": ["push"], "mode": "sync", "actions": [{"name": "a", "type": "pubsub", "topic": "events"}]}]`)
	for _, name := range []string{"a", "b", "c"} {
		p, err := NewPattern(context.Background(), config.Source{Name: name, Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		if out, err := p.Handle(context.Background(), githubEvent(t, "push", "d-"+name)); err != nil || out.Status != 200 {
			t.Fatalf("Handle = %+v, %v", out, err)
		}
	}
	if _, err := (&worker{}).pushVerifier(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{EnvJobsTopic, envDataDir, EnvPushAudience, idempotency.EnvLease, idempotency.EnvCollection} {
		if reads[k] != 1 {
			t.Errorf("%s read %d times, want once per process", k, reads[k])
		}
	}
}

// outcomeRule is an async rule whose three actions end differently: the
// first receiver answers 200, the second 404 (permanent), the third 503
// (retryable, one attempt).
const outcomeRule = `
- name: deploy
  events: [push]
  actions:
    - {name: ok, type: http, url: %s, allow_private_network: true, retry: {max_attempts: 1}}
    - {name: gone, type: http, url: %s, allow_private_network: true, retry: {max_attempts: 1}}
    - {name: busy, type: http, url: %s, allow_private_network: true, retry: {max_attempts: 1}}
`

// A job on the in-process queue runs with the values of the request that
// queued it, not its cancellation: its last line reaches that request's
// log tap (the local runner's inspector) after the request has ended,
// naming the rule and action, the result and, when it ran, the answer.
// A delivery of the same event again ends in duplicates.
func TestALocalJobsLastLineReachesTheTapOfTheRequestThatQueuedIt(t *testing.T) {
	ok, gone, busy := newReceiver(t, 200), newReceiver(t, 404), newReceiver(t, 503)
	d, _ := testDeps(t)
	d.log = logging.New(io.Discard, slog.LevelInfo)
	tr := newTrigger(t, fmt.Sprintf(outcomeRule, ok.srv.URL+"/ok", gone.srv.URL+"/gone", busy.srv.URL+"/busy"), d)

	var mu sync.Mutex
	got := map[string][]map[string]string{} // per delivery, the job lines
	deliver := func(name string) {
		t.Helper()
		ctx, cancel := context.WithCancel(logging.WithTap(context.Background(), func(r slog.Record) {
			line := map[string]string{"msg": r.Message}
			r.Attrs(func(a slog.Attr) bool { line[a.Key] = a.Value.String(); return true })
			mu.Lock()
			got[name] = append(got[name], line)
			mu.Unlock()
		}))
		out, err := tr.Handle(ctx, githubEvent(t, "push", "d-tap"))
		cancel() // the request is over
		wantStatus(t, out, err, 202, resultQueued)
	}
	results := func(name string) map[string]map[string]string {
		mu.Lock()
		defer mu.Unlock()
		byAction := map[string]map[string]string{}
		for _, line := range got[name] {
			if line["function"] == functionWorker && line["result"] != "" {
				byAction[line["action"]] = line
			}
		}
		return byAction
	}

	deliver("first")
	waitFor(t, 10*time.Second, "the three jobs' lines in the first tap", func() bool { return len(results("first")) == 3 })
	first := results("first")
	for action, want := range map[string]struct{ result, answer, err string }{
		"ok":   {ResultRan, "http POST " + strings.TrimPrefix(ok.srv.URL, "http://") + ": status 200", ""},
		"gone": {resultDeadLettered, "", "status 404"},
		"busy": {resultFailed, "", "status 503"},
	} {
		line := first[action]
		if line["rule"] != "deploy" || line["result"] != want.result || line["answer"] != want.answer || !strings.Contains(line["error"], want.err) {
			t.Errorf("job %s: line %v, want rule deploy, result %s, answer %q, error with %q", action, line, want.result, want.answer, want.err)
		}
	}

	deliver("again")
	waitFor(t, 10*time.Second, "the three jobs' lines in the second tap", func() bool { return len(results("again")) == 3 })
	if r := results("again")["ok"]["result"]; r != resultDuplicate {
		t.Errorf("the job that ran, delivered again: result %q, want %s", r, resultDuplicate)
	}
	if n := len(results("first")); n != 3 {
		t.Errorf("the first request's tap got %d job lines after the second delivery, want its own 3", n)
	}
}
