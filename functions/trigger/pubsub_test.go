package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cloudhooks/webhooks/shared/testenv"
)

// emulatorClient returns a real Pub/Sub client on the emulator.
func emulatorClient(t testing.TB) *pubsub.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Pub/Sub emulator")
	}
	project, host := testenv.PubSub(t)
	t.Setenv(envPubSubEmulator, host)
	c, err := pubsub.NewClient(context.Background(), project)
	if err != nil {
		t.Fatalf("pubsub.NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var names atomic.Int64

// uniqueName gives each topic and subscription of the emulator's life its
// own name.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, names.Add(1))
}

func createTopic(t testing.TB, c *pubsub.Client, id string) string {
	t.Helper()
	name := fullTopic(c.Project(), id)
	if _, err := c.TopicAdminClient.CreateTopic(context.Background(), &pubsubpb.Topic{Name: name}); err != nil {
		t.Fatalf("CreateTopic %s: %v", name, err)
	}
	return name
}

func createSub(t testing.TB, c *pubsub.Client, id string, sub *pubsubpb.Subscription) string {
	t.Helper()
	sub.Name = "projects/" + c.Project() + "/subscriptions/" + id
	if _, err := c.SubscriptionAdminClient.CreateSubscription(context.Background(), sub); err != nil {
		t.Fatalf("CreateSubscription %s: %v", sub.Name, err)
	}
	return sub.Name
}

// pullAll pulls what the subscription holds now, acknowledging it.
func pullAll(t testing.TB, c *pubsub.Client, sub string, want int, within time.Duration) []*pubsubpb.ReceivedMessage {
	t.Helper()
	var got []*pubsubpb.ReceivedMessage
	deadline := time.Now().Add(within)
	for len(got) < want && time.Now().Before(deadline) {
		resp, err := c.SubscriptionAdminClient.Pull(context.Background(), &pubsubpb.PullRequest{Subscription: sub, MaxMessages: 100, ReturnImmediately: true}) //nolint:staticcheck
		if err != nil {
			t.Fatalf("Pull %s: %v", sub, err)
		}
		for _, m := range resp.GetReceivedMessages() {
			got = append(got, m)
			if err := c.SubscriptionAdminClient.Acknowledge(context.Background(), &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: []string{m.GetAckId()}}); err != nil {
				t.Fatal(err)
			}
		}
		if len(resp.GetReceivedMessages()) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return got
}

// pubsubDeps returns deps that queue jobs on the emulator's jobs topic and
// dead-letter to dl.
func pubsubDeps(t testing.TB, c *pubsub.Client, jobsTopic, dl string) *deps {
	t.Helper()
	d, _ := testDeps(t)
	jobs := newPubSubJobs(c, jobsTopic, d.jobKey)
	t.Cleanup(jobs.pub.Stop)
	d.jobs = jobs
	d.topics = &clientPublisher{client: c}
	if dl != "" {
		d.deadLetter = c.Publisher(dl)
		t.Cleanup(d.deadLetter.Stop)
	}
	return d
}

const asyncRule = `
- name: deploy
  events: [push]
  serialize_by: payload.repository.full_name
  actions:
    - name: call
      type: http
      url: %s
      allow_private_network: true # the test's receivers are on loopback
      retry: {max_attempts: 1}
    - name: notify
      type: http
      url: %s
      allow_private_network: true # the test's receivers are on loopback
      retry: {max_attempts: 1}
`

func TestAsyncAnswers202OnlyOnceTheJobsArePublished(t *testing.T) {
	c := emulatorClient(t)
	jobsTopic := createTopic(t, c, uniqueName("jobs"))
	sub := createSub(t, c, uniqueName("jobs-sub"), &pubsubpb.Subscription{Topic: jobsTopic, EnableMessageOrdering: true})
	d := pubsubDeps(t, c, jobsTopic, "")
	tr := newTrigger(t, fmt.Sprintf(asyncRule, "http://127.0.0.1:9/a", "http://127.0.0.1:9/b"), d)

	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d-async"))
	wantStatus(t, out, err, 202, resultQueued)
	msgs := pullAll(t, c, sub, 2, 10*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("jobs topic holds %d jobs, want one per action (2)", len(msgs))
	}
	var actions []string
	for _, m := range msgs {
		var j job
		if err := json.Unmarshal(m.GetMessage().GetData(), &j); err != nil {
			t.Fatal(err)
		}
		if j.Event.ID != "d-async" || j.Rule != "deploy" || attemptOf(m.GetMessage().GetAttributes()) != 1 || j.Event.Source != "src" {
			t.Errorf("job %+v, attributes %v", j, m.GetMessage().GetAttributes())
		}
		if err := d.jobKey.check(context.Background(), m.GetMessage().GetData(), m.GetMessage().GetAttributes()[attrSignature]); err != nil {
			t.Errorf("published job's signature: %v", err)
		}
		if k := m.GetMessage().GetOrderingKey(); k != "src/deploy/octo-org/octo-repo" {
			t.Errorf("ordering key %q, want the rule's serialize_by value", k)
		}
		if a := m.GetMessage().GetAttributes(); a[attrAction] != j.Action || a[attrEvent] != "d-async" {
			t.Errorf("attributes %v", a)
		}
		actions = append(actions, j.Action)
	}
	slices.Sort(actions)
	if fmt.Sprint(actions) != "[call notify]" {
		t.Errorf("actions %v", actions)
	}
}

func TestAsyncPublishToAMissingTopicIsRetryableNot202(t *testing.T) {
	c := emulatorClient(t)
	id := uniqueName("missing")
	d := pubsubDeps(t, c, id, "")
	tr := newTrigger(t, fmt.Sprintf(asyncRule, "http://127.0.0.1:9/a", "http://127.0.0.1:9/b"), d)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := tr.Handle(ctx, githubEvent(t, "push", "d1"))
	wantStatus(t, out, err, 503, "")

	// Once the topic exists the retry goes through: the failed publish
	// resumed its ordering key.
	createTopic(t, c, id)
	out, err = tr.Handle(ctx, githubEvent(t, "push", "d1"))
	wantStatus(t, out, err, 202, resultQueued)
}

// workerEndpoint serves the worker as the local runner does to the
// emulator (PushHandler): this machine only.
func workerEndpoint(t testing.TB, w *worker) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(w.pushHandler(localOnly, http.StatusForbidden))
	t.Cleanup(srv.Close)
	return srv
}

// waitFor polls cond until it holds or the time runs out.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWorkerFailureIsRedeliveredDeadLetteredAndReplayed(t *testing.T) {
	c := emulatorClient(t)
	jobsTopic := createTopic(t, c, uniqueName("jobs"))
	dlTopic := createTopic(t, c, uniqueName("dead"))
	dlSub := createSub(t, c, uniqueName("dead-sub"), &pubsubpb.Subscription{Topic: dlTopic})
	rcv := newReceiver(t, 503)
	d := pubsubDeps(t, c, jobsTopic, dlTopic)
	rules := `
- name: deploy
  events: [push]
  actions:
    - name: call
      type: http
      url: ` + rcv.srv.URL + `
      allow_private_network: true
      retry: {max_attempts: 1}
`
	tr := newTrigger(t, rules, d)
	w := &worker{load: func() (map[string]*source, error) { return map[string]*source{"src": tr.src}, nil },
		deps: func(context.Context) (*deps, error) { return d, nil }}
	endpoint := workerEndpoint(t, w)
	const maxDeliveries = 5 // Pub/Sub's minimum
	createSub(t, c, uniqueName("jobs-push"), &pubsubpb.Subscription{
		Topic:              jobsTopic,
		PushConfig:         &pubsubpb.PushConfig{PushEndpoint: endpoint.URL + "/" + jobsTopic},
		AckDeadlineSeconds: 10,
		DeadLetterPolicy:   &pubsubpb.DeadLetterPolicy{DeadLetterTopic: dlTopic, MaxDeliveryAttempts: maxDeliveries},
		RetryPolicy:        &pubsubpb.RetryPolicy{MinimumBackoff: durationpb.New(10 * time.Millisecond), MaximumBackoff: durationpb.New(100 * time.Millisecond)},
	})

	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d-dl"))
	wantStatus(t, out, err, 202, resultQueued)

	dead := pullAll(t, c, dlSub, 1, 60*time.Second)
	if len(dead) != 1 {
		t.Fatalf("dead-letter topic holds %d jobs, want 1", len(dead))
	}
	if reqs, _ := rcv.got(); len(reqs) != maxDeliveries {
		t.Errorf("the action ran %d times, want once per delivery (%d)", len(reqs), maxDeliveries)
	}

	// Fix the receiver, put the job back on the dead-letter topic (pullAll
	// acknowledged it) and replay it: the worker runs it once more.
	rcv.script(0, 200)
	if _, err := c.Publisher(dlTopic).Publish(context.Background(), &pubsub.Message{Data: dead[0].GetMessage().GetData(), Attributes: dead[0].GetMessage().GetAttributes()}).Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	var n int
	waitFor(t, 10*time.Second, "Replay to move the job", func() bool {
		moved, err := Replay(context.Background(), c, dlSub, jobsTopic, 10)
		if err != nil {
			t.Fatalf("Replay: %v", err)
		}
		n += moved
		return n > 0
	})
	if n != 1 {
		t.Fatalf("Replay moved %d jobs, want 1", n)
	}
	waitFor(t, 30*time.Second, "the replayed job to run", func() bool {
		reqs, _ := rcv.got()
		return len(reqs) == maxDeliveries+1
	})
	// A further delivery of the same job is a duplicate, not another call.
	time.Sleep(200 * time.Millisecond)
	if reqs, _ := rcv.got(); len(reqs) != maxDeliveries+1 {
		t.Fatalf("the action ran %d times, want %d", len(reqs), maxDeliveries+1)
	}
}

func TestWorkerDeadLettersAPermanentFailureAtOnce(t *testing.T) {
	c := emulatorClient(t)
	jobsTopic := createTopic(t, c, uniqueName("jobs"))
	dlTopic := createTopic(t, c, uniqueName("dead"))
	dlSub := createSub(t, c, uniqueName("dead-sub"), &pubsubpb.Subscription{Topic: dlTopic})
	rcv := newReceiver(t, 400)
	d := pubsubDeps(t, c, jobsTopic, dlTopic)
	tr := newTrigger(t, fmt.Sprintf(asyncRule, rcv.srv.URL, rcv.srv.URL), d)
	w := &worker{load: func() (map[string]*source, error) { return map[string]*source{"src": tr.src}, nil },
		deps: func(context.Context) (*deps, error) { return d, nil }}
	createSub(t, c, uniqueName("jobs-push"), &pubsubpb.Subscription{
		Topic:      jobsTopic,
		PushConfig: &pubsubpb.PushConfig{PushEndpoint: workerEndpoint(t, w).URL + "/" + jobsTopic},
	})
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d-perm"))
	wantStatus(t, out, err, 202, resultQueued)
	dead := pullAll(t, c, dlSub, 2, 30*time.Second)
	if len(dead) != 2 {
		t.Fatalf("dead-letter topic holds %d jobs, want 2", len(dead))
	}
	for _, m := range dead {
		if e := m.GetMessage().GetAttributes()[attrError]; !strings.Contains(e, "status 400") {
			t.Errorf("dead-lettered job's %s attribute %q does not say why", attrError, e)
		}
	}
	if reqs, _ := rcv.got(); len(reqs) != 2 {
		t.Errorf("the actions ran %d times, want once each (2)", len(reqs))
	}
}

func TestPubSubActionPublishesTheEventWithItsAttributes(t *testing.T) {
	c := emulatorClient(t)
	topicID := uniqueName("events")
	topic := createTopic(t, c, topicID)
	sub := createSub(t, c, uniqueName("events-sub"), &pubsubpb.Subscription{Topic: topic})
	d := pubsubDeps(t, c, uniqueName("unused"), "")
	tr := newTrigger(t, `
- name: fan-out
  events: [release]
  mode: sync
  actions:
    - name: publish
      type: pubsub
      topic: `+topicID+`
      attributes: {tag: "{{.payload.release.tag_name}}", event: "{{.id}}"}
`, d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "release", "d-rel"))
	wantStatus(t, out, err, 200, ResultRan)
	msgs := pullAll(t, c, sub, 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("topic holds %d messages, want 1", len(msgs))
	}
	m := msgs[0].GetMessage()
	var env map[string]any
	if err := json.Unmarshal(m.GetData(), &env); err != nil || env["id"] != "d-rel" || env["type"] != "release" {
		t.Errorf("message is not the event envelope: %s", m.GetData())
	}
	if a := m.GetAttributes(); a["tag"] != "v1.4.0" || a["event"] != "d-rel" {
		t.Errorf("attributes %v", a)
	}
}

// BenchmarkAsyncAck measures the acknowledgement latency of async events
// (match, fill, publish one job, wait for Pub/Sub's acknowledgement) with 80
// concurrent events against the emulator, reporting p50 and p99.
// Verification is the pipeline's and is measured there.
func BenchmarkAsyncAck(b *testing.B) {
	c := emulatorClient(b)
	jobsTopic := createTopic(b, c, uniqueName("bench-jobs"))
	d := pubsubDeps(b, c, jobsTopic, "")
	tr := newTrigger(b, `
- name: deploy
  events: [push]
  condition: payload.ref == "refs/heads/main"
  actions: [{name: build, type: cloudbuild, trigger: t}]
`, d)
	ev := githubEvent(b, "push", "bench")
	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	b.SetParallelism(max(1, 80/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		for pb.Next() {
			start := time.Now()
			out, err := tr.Handle(context.Background(), ev)
			if err != nil || out.Status != 202 {
				b.Errorf("Handle = %+v, %v", out, err)
				return
			}
			local = append(local, time.Since(start))
		}
		mu.Lock()
		lats = append(lats, local...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lats) == 0 {
		return
	}
	slices.Sort(lats)
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
}

func TestSetUpEmulatorWiresTheJobsTopicToTheWorker(t *testing.T) {
	c := emulatorClient(t)
	jobsID, deadID := uniqueName("jobs"), uniqueName("dead")
	t.Setenv(EnvJobsTopic, jobsID)
	t.Setenv(EnvDeadLetterTopic, deadID)
	t.Setenv(EnvProject, c.Project())
	rcv := newReceiver(t, 200)
	d := pubsubDeps(t, c, jobsID, deadID)
	tr := newTrigger(t, fmt.Sprintf(asyncRule, rcv.srv.URL+"/a", rcv.srv.URL+"/b"), d)
	w := &worker{load: func() (map[string]*source, error) { return map[string]*source{"src": tr.src}, nil },
		deps: func(context.Context) (*deps, error) { return d, nil }}
	endpoint := workerEndpoint(t, w)
	for range 2 { // a second run keeps what exists
		if err := SetUpEmulator(context.Background(), endpoint.URL); err != nil {
			t.Fatal(err)
		}
	}
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d-local-emulator"))
	wantStatus(t, out, err, 202, resultQueued)
	waitFor(t, 30*time.Second, "the pushed jobs to run", func() bool {
		reqs, _ := rcv.got()
		return len(reqs) == 2
	})
	reqs, _ := rcv.got()
	if reqs[0].URL.Path != "/a" || reqs[1].URL.Path != "/b" {
		t.Errorf("ran %s then %s, want /a then /b (ordering key)", reqs[0].URL.Path, reqs[1].URL.Path)
	}
}

func TestSetUpEmulatorRefusesARealProject(t *testing.T) {
	t.Setenv(envPubSubEmulator, "")
	if err := SetUpEmulator(context.Background(), "http://localhost:8080"); err == nil {
		t.Fatal("SetUpEmulator ran without the emulator")
	}
}

// TestAnAttributePubSubWouldRefuseIsRefusedBeforePublishing proves an
// attribute value is checked for what it lands in, a Pub/Sub attribute
// (at most 1024 bytes of UTF-8), once filled: an event whose value breaks
// it (a 2000-character title) is unprocessable, 422, named by its
// attribute, and nothing is published.
func TestAnAttributePubSubWouldRefuseIsRefusedBeforePublishing(t *testing.T) {
	c := emulatorClient(t)
	topicID := uniqueName("events")
	topic := createTopic(t, c, topicID)
	sub := createSub(t, c, uniqueName("events-sub"), &pubsubpb.Subscription{Topic: topic})
	d := pubsubDeps(t, c, uniqueName("unused"), "")
	tr := newTrigger(t, `
- name: fan-out
  events: [push]
  mode: sync
  actions:
    - name: publish
      type: pubsub
      topic: `+topicID+`
      attributes: {note: "{{.payload.note}}"}
      retry: {max_attempts: 1}
`, d)
	out, err := tr.Handle(context.Background(), payloadEvent(t, "d1", map[string]any{"note": strings.Repeat("x", 2000)}))
	wantStatus(t, out, err, 422, "")
	if !strings.Contains(err.Error(), "attributes.note") || !strings.Contains(err.Error(), "1024") {
		t.Errorf("error %q does not name the attribute and the limit", err)
	}
	if msgs := pullAll(t, c, sub, 1, time.Second); len(msgs) != 0 {
		t.Fatalf("topic holds %d messages, want none", len(msgs))
	}
}
