package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/secrets/secretstest"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// receiver is an HTTP action target that answers with a scripted sequence
// of statuses (the last one repeats) and keeps what it received.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	statuses []int
	hang     time.Duration // delay before answering
	requests []*http.Request
	bodies   [][]byte
	conns    atomic.Int64
	inFlight atomic.Int64
	maxConc  atomic.Int64
}

func newReceiver(t testing.TB, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	n := r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	for {
		m := r.maxConc.Load()
		if n <= m || r.maxConc.CompareAndSwap(m, n) {
			break
		}
	}
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	i := len(r.requests)
	r.requests = append(r.requests, req.Clone(context.Background()))
	r.bodies = append(r.bodies, body)
	hang, statuses := r.hang, r.statuses
	r.mu.Unlock()
	if hang > 0 {
		select {
		case <-time.After(hang):
		case <-req.Context().Done():
			return
		}
	}
	status := http.StatusOK
	if len(statuses) > 0 {
		status = statuses[min(i, len(statuses)-1)]
	}
	w.WriteHeader(status)
}

// script sets how the receiver answers from now on: after hang, with the
// statuses in turn (by request number; the last repeats).
func (r *receiver) script(hang time.Duration, statuses ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hang, r.statuses = hang, statuses
}

func (r *receiver) got() ([]*http.Request, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.requests...), append([][]byte(nil), r.bodies...)
}

// httpRule is a sync rule with one http action to url, which may be on
// loopback (the receivers of these tests are).
func httpRule(url, extra string) string {
	return `
- name: notify
  events: [push]
  mode: sync
  actions:
    - name: call
      type: http
      url: ` + url + `
      allow_private_network: true
      timeout: 2s
      retry: {max_attempts: 3, initial_backoff: 1ms, max_backoff: 4ms}
` + extra
}

func TestHTTPActionRetriesWithBackoffUntilItSucceeds(t *testing.T) {
	rcv := newReceiver(t, 503, 500, 200)
	d, _ := testDeps(t)
	tr := newTrigger(t, httpRule(rcv.srv.URL+"/hook", ""), d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "delivery-1"))
	wantStatus(t, out, err, 200, ResultRan)
	reqs, bodies := rcv.got()
	if len(reqs) != 3 {
		t.Fatalf("receiver got %d requests, want 3 (two failures, then success)", len(reqs))
	}
	for i, r := range reqs {
		if got, want := r.Header.Get(headerIdempotencyKey), outgoingID("src", "notify", "call", "delivery-1"); got != want {
			t.Errorf("request %d: Idempotency-Key %q, want %q, the same on every retry", i, got, want)
		}
		var env map[string]any
		if err := json.Unmarshal(bodies[i], &env); err != nil || env["id"] != "delivery-1" {
			t.Errorf("request %d: default body is not the event envelope: %s", i, bodies[i])
		}
	}
}

func TestHTTPActionFailuresAnswerAsTheProviderNeeds(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		hang      time.Duration
		extra     string
		status    int
		wantCalls int
	}{
		{"server errors until attempts run out: 503", []int{502}, 0, "", 503, 3},
		{"too many requests is retried: 503", []int{429}, 0, "", 503, 3},
		{"a 4xx cannot be fixed by retrying: 422, one call", []int{400}, 0, "", 422, 1},
		{"a redirect is not followed: 422, one call", []int{http.StatusFound}, 0, "", 422, 1},
		{"a hanging receiver times out each attempt: 503", nil, time.Second, "", 503, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, tt.statuses...)
			rcv.script(tt.hang, tt.statuses...)
			d, _ := testDeps(t)
			rules := httpRule(rcv.srv.URL, tt.extra)
			if tt.hang > 0 {
				rules = strings.Replace(rules, "timeout: 2s", "timeout: 20ms", 1)
			}
			tr := newTrigger(t, rules, d)
			out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d1"))
			wantStatus(t, out, err, tt.status, "")
			if reqs, _ := rcv.got(); len(reqs) != tt.wantCalls {
				t.Errorf("receiver got %d calls, want %d", len(reqs), tt.wantCalls)
			}
			// The failure released the claim: the provider's retry acts.
			rcv.script(0, 200)
			out, err = tr.Handle(context.Background(), githubEvent(t, "push", "d1"))
			wantStatus(t, out, err, 200, ResultRan)
		})
	}
}

func TestHTTPActionIsSignedVerifiablyWithASecretManagerSecret(t *testing.T) {
	const key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	sm := secretstest.Start(t)
	sm.Add("test-project", "deploy-hook-secret", []byte(key+"\n"))
	rcv := newReceiver(t, 200)
	d, logs := testDeps(t)
	d.secrets = secrets.NewResolver(secrets.Options{Project: "test-project", Client: sm.Client(t)})
	tr := newTrigger(t, httpRule(rcv.srv.URL, "      secret: sm:deploy-hook-secret\n      headers: {X-Repo: \"{{.payload.repository.full_name}}\"}\n      body: '{\"commit\":{{json .payload.after}}}'\n"), d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d-signed"))
	wantStatus(t, out, err, 200, ResultRan)

	reqs, bodies := rcv.got()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests", len(reqs))
	}
	r, body := reqs[0], bodies[0]
	if string(body) != `{"commit":"59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5"}` || r.Header.Get("X-Repo") != "octo-org/octo-repo" {
		t.Errorf("templates not applied: body %s, X-Repo %q", body, r.Header.Get("X-Repo"))
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	if id := r.Header.Get(verify.HeaderWebhookID); id != r.Header.Get(headerIdempotencyKey) || id != outgoingID("src", "notify", "call", "d-signed") {
		t.Errorf("webhook-id %q, want the idempotency key", id)
	}
	v, err := verify.New("receiver", verify.Config{Scheme: "standardwebhooks", Secret: "env:K"}, memSecrets{"env:K": key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), r, body); err != nil {
		t.Fatalf("the receiver cannot verify the signature: %v", err)
	}
	wrong, _ := verify.New("receiver", verify.Config{Scheme: "standardwebhooks", Secret: "env:K"}, memSecrets{"env:K": "whsec_" + strings.Repeat("A", 32)})
	if _, err := wrong.Verify(context.Background(), r, body); err == nil {
		t.Fatal("a different key verified the signature")
	}
	if strings.Contains(logs.String(), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
		t.Fatal("the secret reached the logs")
	}
}

func TestHTTPActionWithAnUnreadableSecretIsRetryable(t *testing.T) {
	rcv := newReceiver(t, 200)
	d, _ := testDeps(t)
	d.secrets = memSecrets{}
	tr := newTrigger(t, httpRule(rcv.srv.URL, "      secret: sm:missing\n"), d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d1"))
	wantStatus(t, out, err, 503, "")
	if reqs, _ := rcv.got(); len(reqs) != 0 {
		t.Fatalf("an unsigned request was sent")
	}
}

func TestHTTPActionsReuseConnections(t *testing.T) {
	rcv := newReceiver(t, 200)
	d, _ := testDeps(t)
	tr := newTrigger(t, httpRule(rcv.srv.URL, ""), d)
	for i := range 5 {
		out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d"+string(rune('a'+i))))
		wantStatus(t, out, err, 200, ResultRan)
	}
	if reqs, _ := rcv.got(); len(reqs) != 5 {
		t.Fatalf("got %d requests, want 5", len(reqs))
	}
	if n := rcv.conns.Load(); n != 1 {
		t.Fatalf("5 sequential actions opened %d connections, want 1", n)
	}
}

func TestADuplicateDeliveryDoesNotRunTheActionAgain(t *testing.T) {
	rcv := newReceiver(t, 200)
	d, _ := testDeps(t)
	tr := newTrigger(t, httpRule(rcv.srv.URL, ""), d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "same"))
	wantStatus(t, out, err, 200, ResultRan)
	out, err = tr.Handle(context.Background(), githubEvent(t, "push", "same"))
	wantStatus(t, out, err, 200, resultDuplicate)
	if reqs, _ := rcv.got(); len(reqs) != 1 {
		t.Fatalf("receiver got %d calls, want 1", len(reqs))
	}
}

func TestAConcurrentDeliveryOfTheSameEventIsRetryable(t *testing.T) {
	rcv := newReceiver(t)
	rcv.script(200*time.Millisecond, 200)
	d, _ := testDeps(t)
	tr := newTrigger(t, httpRule(rcv.srv.URL, ""), d)
	first := make(chan error, 1)
	go func() {
		_, err := tr.Handle(context.Background(), githubEvent(t, "push", "same"))
		first <- err
	}()
	for {
		if reqs, _ := rcv.got(); len(reqs) == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "same"))
	wantStatus(t, out, err, 503, "")
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

func TestSyncSerializeByRunsOneEventAtATimePerKey(t *testing.T) {
	rcv := newReceiver(t)
	rcv.script(20*time.Millisecond, 200)
	d, _ := testDeps(t)
	tr := newTrigger(t, httpRule(rcv.srv.URL, "  serialize_by: payload.repository.full_name\n"), d)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			out, err := tr.Handle(context.Background(), githubEvent(t, "push", "e"+string(rune('0'+i))))
			wantStatus(t, out, err, 200, ResultRan)
		})
	}
	wg.Wait()
	if m := rcv.maxConc.Load(); m != 1 {
		t.Fatalf("%d actions of one repository ran at once, want 1", m)
	}
	if reqs, _ := rcv.got(); len(reqs) != 4 {
		t.Fatalf("got %d requests, want 4", len(reqs))
	}
}

func TestATemplateTheEventCannotFillIsUnprocessableAndNothingRuns(t *testing.T) {
	rcv := newReceiver(t, 200)
	d, _ := testDeps(t)
	rules := httpRule(rcv.srv.URL, "      body: '{{.payload.no_such_field}}'\n") + `
- name: second
  events: [push]
  mode: sync
  actions: [{name: x, type: http, url: "` + rcv.srv.URL + `", allow_private_network: true}]
`
	tr := newTrigger(t, rules, d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d1"))
	wantStatus(t, out, err, 422, "")
	if reqs, _ := rcv.got(); len(reqs) != 0 {
		t.Fatalf("got %d requests, want none", len(reqs))
	}
}

// payloadEvent returns a push event whose payload is p.
func payloadEvent(t *testing.T, id string, p map[string]any) *event.Event {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return &event.Event{Source: "src", ID: id, Type: "push", ReceivedAt: time.Now().UTC(), Payload: b}
}

func TestAnEventCannotChooseTheHostOfAnHTTPAction(t *testing.T) {
	// The attacker's host, on loopback, and a tenant that points the
	// partner URL at it: "http://127.0.0.1:PORT/x#.partner.example/hook".
	attacker := newReceiver(t, 200)
	tenant := strings.TrimPrefix(attacker.srv.URL, "http://") + "/x#"
	rules := `
- name: partner
  events: [push]
  mode: sync
  actions:
    - name: call
      type: http
      url: "http://{{.payload.tenant}}.partner.example/hook"
      headers: {Authorization: "Bearer partner-token"}
      retry: {max_attempts: 1}
`
	src, err := compileYAML(t, rules)
	if err == nil {
		d, _ := testDeps(t)
		tr := &trigger{src: src, deps: func(context.Context) (*deps, error) { return d, nil }}
		_, _ = tr.Handle(context.Background(), payloadEvent(t, "d1", map[string]any{"tenant": tenant}))
		if reqs, _ := attacker.got(); len(reqs) > 0 {
			t.Fatalf("the event sent the action to %s with Authorization %q", attacker.srv.URL, reqs[0].Header.Get("Authorization"))
		}
		t.Fatal("a URL whose host is an interpolation compiled")
	}
	for _, want := range []string{"rules[0].actions[0].url", `rule "partner"`, "host"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start-up error %q does not name %s", err, want)
		}
	}
}

func TestHTTPActionValuesStayInTheirPlaceInTheURL(t *testing.T) {
	tests := []struct {
		name, tenant, ref string
		status            int
	}{
		{"a path segment cannot become a query or a fragment", "acme/../admin?x=1#", "main&deploy=prod", 200},
		{"a query value cannot add parameters", "acme", "main&deploy=prod#x", 200},
		{"a dot segment is refused", "..", "main", 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, 200)
			d, _ := testDeps(t)
			tr := newTrigger(t, httpRule(rcv.srv.URL+"/tenants/{{.payload.tenant}}/hook?ref={{.payload.ref}}", ""), d)
			out, err := tr.Handle(context.Background(), payloadEvent(t, "d1", map[string]any{"tenant": tt.tenant, "ref": tt.ref}))
			wantStatus(t, out, err, tt.status, ResultRan)
			reqs, _ := rcv.got()
			if tt.status != 200 {
				if len(reqs) != 0 {
					t.Fatalf("the receiver got %s", reqs[0].URL)
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			u := reqs[0].URL
			segs := strings.Split(u.EscapedPath(), "/")
			if len(segs) != 4 || segs[1] != "tenants" || segs[3] != "hook" {
				t.Fatalf("path %q: the tenant changed the path's structure", u.EscapedPath())
			}
			if got, _ := url.PathUnescape(segs[2]); got != tt.tenant {
				t.Errorf("tenant arrived as %q, want %q", got, tt.tenant)
			}
			if q := u.Query(); len(q) != 1 || q.Get("ref") != tt.ref {
				t.Errorf("query %q: want ref=%q alone", u.RawQuery, tt.ref)
			}
		})
	}
}

func TestHTTPActionsToNonPublicAddressesAreRefusedUnlessTheActionOptsIn(t *testing.T) {
	rcv := newReceiver(t, 200)
	port := rcv.srv.Listener.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name, url string
	}{
		{"loopback", rcv.srv.URL + "/hook"},
		{"a name that resolves to loopback (as after DNS rebinding)", fmt.Sprintf("http://localhost:%d/hook", port)},
		{"IPv4-mapped loopback", fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/hook", port)},
		{"the metadata server", "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token"},
		{"a private network", "http://10.1.2.3/hook"},
		{"unspecified", fmt.Sprintf("http://0.0.0.0:%d/hook", port)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := testDeps(t)
			rules := `
- name: notify
  events: [push]
  mode: sync
  actions:
    - name: call
      type: http
      url: ` + tt.url + `
      timeout: 500ms
      retry: {max_attempts: 1}
`
			tr := newTrigger(t, rules, d)
			out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d1"))
			if !errors.Is(err, errNonPublicAddress) {
				t.Fatalf("Handle = (%+v, %v), want errNonPublicAddress", out, err)
			}
			wantStatus(t, out, err, 422, "")
			if reqs, _ := rcv.got(); len(reqs) != 0 {
				t.Fatalf("the loopback receiver got %d requests", len(reqs))
			}
		})
	}
	t.Run("opted in with allow_private_network", func(t *testing.T) {
		d, _ := testDeps(t)
		tr := newTrigger(t, httpRule(fmt.Sprintf("http://localhost:%d/hook", port), ""), d)
		out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d2"))
		wantStatus(t, out, err, 200, ResultRan)
		if reqs, _ := rcv.got(); len(reqs) != 1 {
			t.Fatalf("the receiver got %d requests, want 1", len(reqs))
		}
	})
}

func TestAnEventCannotAddMembersToAJSONBody(t *testing.T) {
	const attack = `x","admin":true,"note2":"`
	rcv := newReceiver(t, 200)
	d, _ := testDeps(t)
	tr := newTrigger(t, httpRule(rcv.srv.URL, `      body: '{"note":"{{.payload.note}}","by":{{.payload.note}},"n":{{.payload.n}}}'`+"\n"), d)
	out, err := tr.Handle(context.Background(), payloadEvent(t, "d1", map[string]any{"note": attack, "n": 3}))
	wantStatus(t, out, err, 200, ResultRan)
	_, bodies := rcv.got()
	if len(bodies) != 1 {
		t.Fatalf("got %d requests, want 1", len(bodies))
	}
	var got map[string]any
	if err := json.Unmarshal(bodies[0], &got); err != nil {
		t.Fatalf("body %s is not JSON: %v", bodies[0], err)
	}
	want := map[string]any{"note": attack, "by": attack, "n": 3.0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %s decodes to %v, want %v", bodies[0], got, want)
	}
}

// TestAnEventCannotAddFieldsToAFormBody performs the form injection: a
// value with "&" and "=" must stay inside its field of an
// application/x-www-form-urlencoded body (Slack's and many legacy
// receivers' format), not add "admin=true".
func TestAnEventCannotAddFieldsToAFormBody(t *testing.T) {
	const attack = "hi&admin=true&channel=#general"
	for _, ct := range []string{"application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded; charset=utf-8"} {
		t.Run(ct, func(t *testing.T) {
			rcv := newReceiver(t, 200)
			d, _ := testDeps(t)
			tr := newTrigger(t, httpRule(rcv.srv.URL, "      headers: {Content-Type: '"+ct+"'}\n      body: 'text={{.payload.note}}&channel=deploys&n={{.payload.n}}'\n"), d)
			out, err := tr.Handle(context.Background(), payloadEvent(t, "d1", map[string]any{"note": attack, "n": 3}))
			wantStatus(t, out, err, 200, ResultRan)
			reqs, bodies := rcv.got()
			if len(bodies) != 1 {
				t.Fatalf("got %d requests, want 1", len(bodies))
			}
			form, err := url.ParseQuery(string(bodies[0]))
			if err != nil {
				t.Fatalf("body %q: %v", bodies[0], err)
			}
			want := url.Values{"text": {attack}, "channel": {"deploys"}, "n": {"3"}}
			if !reflect.DeepEqual(form, want) {
				t.Fatalf("body %q reads as %v, want %v", bodies[0], form, want)
			}
			if got := reqs[0].Header.Get("Content-Type"); got != ct {
				t.Errorf("Content-Type %q, want %q", got, ct)
			}
		})
	}
}

func TestATextBodyIsFilledAsWritten(t *testing.T) {
	rcv := newReceiver(t, 200)
	d, _ := testDeps(t)
	tr := newTrigger(t, httpRule(rcv.srv.URL, "      headers: {Content-Type: text/plain}\n      body: 'push to \"{{.payload.ref}}\"'\n"), d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d1"))
	wantStatus(t, out, err, 200, ResultRan)
	if _, bodies := rcv.got(); len(bodies) != 1 || string(bodies[0]) != `push to "refs/heads/main"` {
		t.Fatalf("bodies %q, want the text as written", bodies)
	}
}

func TestDialPublicOnlyRefusesEveryNonPublicRange(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
	}{
		{"8.8.8.8:443", true},
		{"[2001:4860:4860::8888]:443", true},
		{"127.0.0.1:80", false},
		{"[::1]:80", false},
		{"169.254.169.254:80", false},
		{"[::ffff:169.254.169.254]:80", false},
		{"[fe80::1]:80", false},
		{"10.0.0.1:80", false},
		{"172.16.0.1:80", false},
		{"192.168.1.1:80", false},
		{"[fc00::1]:80", false},
		{"[fd00:ec2::254]:80", false},
		{"100.64.0.1:80", false},
		{"0.0.0.0:80", false},
		{"[::]:80", false},
		{"255.255.255.255:80", false},
		{"224.0.0.1:80", false},
		{"[64:ff9b::a9fe:a9fe]:80", false},
		{"not an address", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := dialPublicOnly("tcp", tt.addr, nil)
			if (err == nil) != tt.public {
				t.Fatalf("dialPublicOnly(%s) = %v, want public %v", tt.addr, err, tt.public)
			}
			if err != nil && !errors.Is(err, errNonPublicAddress) {
				t.Fatalf("error %v does not wrap errNonPublicAddress", err)
			}
		})
	}
}
