package trigger

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"sigs.k8s.io/yaml"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// dedupingReceiver is a receiver that does what Idempotency-Key asks of
// it: a request whose key it has seen is answered 200 and not acted on.
type dedupingReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string]bool
	ids  []string // webhook-id of every request
	acts int
}

func newDedupingReceiver(t testing.TB) *dedupingReceiver {
	t.Helper()
	r := &dedupingReceiver{seen: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ids = append(r.ids, req.Header.Get(verify.HeaderWebhookID))
		if k := req.Header.Get(headerIdempotencyKey); !r.seen[k] {
			r.seen[k] = true
			r.acts++
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// sourceNamed compiles rulesYAML as the rules of the named source and
// returns its pattern with fixed deps.
func sourceNamed(t testing.TB, name, rulesYAML string, d *deps) *trigger {
	t.Helper()
	raw, err := yaml.YAMLToJSON([]byte(rulesYAML))
	if err != nil {
		t.Fatalf("rules YAML: %v", err)
	}
	src, err := compileSource(config.Source{Name: name, Rules: raw}, idempotency.DefaultLease)
	if err != nil {
		t.Fatalf("compile rules: %v", err)
	}
	return &trigger{src: src, deps: func(context.Context) (*deps, error) { return d, nil }}
}

// The attack: a second source (or a sender that chooses its own event id,
// such as GitHub's unsigned X-GitHub-Delivery) sends an event whose id
// equals another source's. With ids of "<event id>/<action>" the shared
// receiver took the second call for a retry of the first and dropped it.
func TestHTTPActionIdsOfTwoSourcesWithTheSameEventIdDiffer(t *testing.T) {
	const key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	rcv := newDedupingReceiver(t)
	d, _ := testDeps(t)
	d.secrets = memSecrets{"env:K": key}
	rules := httpRule(rcv.srv.URL+"/hook", "      secret: env:K\n")
	for _, name := range []string{"github", "gitlab"} {
		tr := sourceNamed(t, name, rules, d)
		ev := githubEvent(t, "push", "same-delivery-id")
		ev.Source = name
		out, err := tr.Handle(context.Background(), ev)
		wantStatus(t, out, err, 200, ResultRan)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.acts != 2 {
		t.Errorf("the receiver acted on %d of the two sources' calls: their Idempotency-Keys collide (%v)", rcv.acts, rcv.seen)
	}
	if len(rcv.ids) != 2 || rcv.ids[0] == rcv.ids[1] {
		t.Errorf("webhook-id of the two sources' calls %q: want two different ids", rcv.ids)
	}
}

func TestOutgoingIDIsAFixedLengthHashOfItsScope(t *testing.T) {
	long := strings.Repeat("x/", 600)
	base := outgoingID("github", "deploy", "call", "d-1")
	for _, c := range []struct{ name, source, rule, action, id string }{
		{"another source", "gitlab", "deploy", "call", "d-1"},
		{"another rule", "github", "notify", "call", "d-1"},
		{"another action", "github", "deploy", "build", "d-1"},
		{"another event", "github", "deploy", "call", "d-2"},
		{"a long event id", "github", "deploy", "call", long},
		{"the event id naming the scope", "github", "deploy", "call", "github/deploy/call/d-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := outgoingID(c.source, c.rule, c.action, c.id)
			if got == base {
				t.Errorf("outgoingID(%q, %q, %q, %q) = %q, the id of github/deploy/call/d-1", c.source, c.rule, c.action, c.id, got)
			}
			if len(got) != len(base) {
				t.Errorf("outgoingID is %d characters long, want %d whatever the event id", len(got), len(base))
			}
			if strings.Contains(got, c.id) {
				t.Errorf("outgoingID %q contains the event id", got)
			}
		})
	}
	if again := outgoingID("github", "deploy", "call", "d-1"); again != base {
		t.Errorf("outgoingID is not stable: %q then %q", base, again)
	}
}

// A rule or action name with "/" would make two scopes one string
// (rule "a/b" action "c" and rule "a" action "b/c"): it is refused.
func TestRuleAndActionNamesWithASlashAreRefused(t *testing.T) {
	for _, c := range []struct{ name, rules, want string }{
		{"rule", `
- name: a/b
  events: [push]
  actions: [{name: c, type: pubsub, topic: jobs}]
`, "rules[0].name"},
		{"action", `
- name: a
  events: [push]
  actions: [{name: b/c, type: pubsub, topic: jobs}]
`, "rules[0].actions[0].name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := compileYAML(t, c.rules)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"/"`) {
				t.Fatalf("compile = %v, want an error naming %s and \"/\"", err, c.want)
			}
		})
	}
}

// A subscriber dedupes Pub/Sub's at-least-once deliveries with the same
// scoped id HTTP receivers get, which a template cannot override.
func TestPubSubActionCarriesTheScopedID(t *testing.T) {
	c := emulatorClient(t)
	topicID := uniqueName("scoped")
	topic := createTopic(t, c, topicID)
	sub := createSub(t, c, uniqueName("scoped-sub"), &pubsubpb.Subscription{Topic: topic})
	d := pubsubDeps(t, c, uniqueName("unused"), "")
	tr := sourceNamed(t, "github", `
- name: fan-out
  events: [release]
  mode: sync
  actions:
    - name: publish
      type: pubsub
      topic: `+topicID+`
`, d)
	ev := githubEvent(t, "release", "d-rel")
	ev.Source = "github"
	out, err := tr.Handle(context.Background(), ev)
	wantStatus(t, out, err, 200, ResultRan)
	msgs := pullAll(t, c, sub, 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("topic holds %d messages, want 1", len(msgs))
	}
	m := msgs[0].GetMessage()
	if got, want := m.GetAttributes()[attrIdempotencyKey], outgoingID("github", "fan-out", "publish", "d-rel"); got != want {
		t.Errorf("attribute %s = %q, want %q", attrIdempotencyKey, got, want)
	}
	var env map[string]any
	if err := json.Unmarshal(m.GetData(), &env); err != nil || env["id"] != "d-rel" {
		t.Errorf("message is not the event envelope: %s", m.GetData())
	}

	_, err = compileYAML(t, `
- name: fan-out
  events: [release]
  actions: [{name: publish, type: pubsub, topic: t1, attributes: {`+attrIdempotencyKey+`: "{{.id}}"}}]
`)
	if err == nil || !strings.Contains(err.Error(), "attributes."+attrIdempotencyKey) {
		t.Errorf("an attribute template named %s compiled (err %v): it would replace the scoped id", attrIdempotencyKey, err)
	}
}
