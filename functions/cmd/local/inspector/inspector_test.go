package inspector

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// Development keys of the test sources, each in its scheme's format.
const (
	githubKey = "0123456789abcdef0123456789abcdef"
	stripeKey = "whsec_0123456789abcdef0123456789abcdef"
	ciToken   = "tok-ci-5ecret-value"
	formToken = "tok-form-5ecret-value"
	// metaToken is the meta source's handshake secret: Meta's verify token.
	metaToken   = "meta-verify-5ecret-value"
	pandadocKey = "pandadoc-shared-key-0123456789"
)

const testConfig = `
store:
  sources:
    - name: github
      verify: {scheme: github, secret: sm:github}
    - name: stripe
      verify: {scheme: stripe, secret: sm:stripe}
    - name: ci
      verify: {scheme: token, secret: sm:ci, header: X-Ci-Check}
    - name: form
      verify: {scheme: token, secret: sm:form, field: token}
    - name: open
      verify: {scheme: none, allow_cidrs: [127.0.0.0/8, "::1/128"]}
    - name: meta
      verify: {scheme: github, secret: sm:github, handshakes: [meta], handshake_secret: sm:meta}
    - name: pandadoc
      verify: {scheme: pandadoc, secret: sm:pandadoc}
`

// runner is the local runner's shape in miniature: the real pipeline
// (real verification, real secrets from files) serving the Store section
// under /store/, recorded by an Inspector whose page is at Path.
type runner struct {
	t      *testing.T
	dir    string
	cfg    *config.File
	res    *secrets.Resolver
	now    time.Time
	mu     sync.Mutex
	events []*event.Event
	insp   *Inspector
	srv    *httptest.Server
}

func newRunner(t *testing.T) *runner {
	t.Helper()
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secretDir := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(secretDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{"github": githubKey, "stripe": stripeKey, "ci": ciToken, "form": formToken, "meta": metaToken, "pandadoc": pandadocKey} {
		if err := os.WriteFile(filepath.Join(secretDir, name), []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rn := &runner{t: t, dir: filepath.Join(dir, "inspector"), cfg: cfg, now: time.Now(),
		res: secrets.NewResolver(secrets.Options{LocalDir: secretDir})}
	rn.start()
	return rn
}

func (rn *runner) clock() time.Time {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.now
}

func (rn *runner) advance(d time.Duration) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.now = rn.now.Add(d)
}

// start serves a fresh pipeline and Inspector on the same folder, as a
// restarted `make run` does.
func (rn *runner) start() {
	t := rn.t
	t.Helper()
	log := logging.New(io.Discard, slog.LevelInfo)
	store := func(ctx context.Context, src config.Source) (pattern.Pattern, error) {
		return pattern.Func(func(ctx context.Context, ev *event.Event) (pattern.Outcome, error) {
			rn.mu.Lock()
			rn.events = append(rn.events, ev)
			rn.mu.Unlock()
			log.InfoContext(ctx, "row written", "table", src.Name)
			return pattern.Outcome{Result: "stored"}, nil
		}), nil
	}
	h, err := pipeline.New(context.Background(), rn.cfg.Function("store"), rn.res, store,
		pipeline.Options{Logger: log, Now: rn.clock})
	if err != nil {
		t.Fatal(err)
	}
	insp, err := New(Options{Dir: rn.dir, Config: rn.cfg, Secrets: rn.res, Now: rn.clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/store/", http.StripPrefix("/store", h))
	mux.Handle(Path, insp.Page())
	rn.insp = insp
	rn.srv = httptest.NewServer(insp.Record(mux))
	t.Cleanup(rn.stop)
}

func (rn *runner) stop() {
	if rn.srv == nil {
		return
	}
	rn.srv.Close()
	if err := rn.insp.Close(); err != nil {
		rn.t.Error(err)
	}
	rn.srv = nil
}

func (rn *runner) restart() {
	rn.stop()
	rn.start()
}

// post sends body to path, signed for the source the way its provider
// signs (verify.Sign, as `send` does) unless key is empty.
func (rn *runner) post(path, body string, key string, header http.Header) int {
	t := rn.t
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rn.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	if key != "" {
		fn, name, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		src, _ := sourceOf(rn.cfg, fn, name)
		if err := verify.Sign(src.Verify, []byte(key), rn.clock(), req, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// list is what the page's script gets.
func (rn *runner) list() list {
	rn.t.Helper()
	resp, err := http.Get(rn.srv.URL + Path + "api/deliveries")
	if err != nil {
		rn.t.Fatal(err)
	}
	defer resp.Body.Close()
	var l list
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		rn.t.Fatal(err)
	}
	return l
}

// act asks the page's replay (action "replay" or "resign") of seq.
func (rn *runner) act(seq int64, action string) (int, Delivery) {
	rn.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rn.srv.URL+Path+"api/deliveries/"+strconv.FormatInt(seq, 10)+"/"+action, nil)
	req.Header.Set(ActionHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rn.t.Fatal(err)
	}
	defer resp.Body.Close()
	var d Delivery
	_ = json.NewDecoder(resp.Body).Decode(&d)
	return resp.StatusCode, d
}

const ghPush = `{"ref":"refs/heads/main","commits":[]}`
const stripeEvent = `{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}`

// Each delivery is listed with what the pipeline answered and why: the
// verification outcome and its reason, the event, what the function did,
// and its headers with every credential masked.
func TestRecordsWhatThePipelineDidWithEachDelivery(t *testing.T) {
	rn := newRunner(t)
	gh := http.Header{"X-Github-Event": {"push"}, "X-Github-Delivery": {"d-1"}}
	tests := []struct {
		name             string
		path, body, key  string
		header           http.Header
		wantStatus       int
		wantVerification string
		wantReason       string // substring
		wantEvent        string // prefix
		wantResult       string
		wantLog          string // substring of a log line
	}{
		{"signed github push", "/store/github", ghPush, githubKey, gh, 200, VerifyPassed, "", "d-1", "stored", "row written table=github"},
		{"wrong key", "/store/github", ghPush, "not-the-key-0123456789", gh, 401, VerifyFailed, "signature does not match", "", "", ""},
		{"no signature", "/store/stripe", stripeEvent, "", nil, 401, VerifyFailed, "missing header", "", "", ""},
		{"token in a custom header", "/store/ci", `{"id":"ci-1"}`, ciToken, nil, 200, VerifyPassed, "", "sha256:", "stored", ""},
		{"unsigned source", "/store/open", `{"id":"o-1"}`, "", nil, 200, VerifyUnsigned, "", "sha256:", "stored", ""},
		{"unknown source", "/store/nope", `{}`, "", nil, 404, VerifyNotChecked, "unknown source", "", "", ""},
		{"no function at the path", "/nothing", `{}`, "", nil, 404, VerifyNotChecked, "404 page not found", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rn.post(tt.path, tt.body, tt.key, tt.header); got != tt.wantStatus {
				t.Fatalf("status %d, want %d", got, tt.wantStatus)
			}
			d := rn.list().Deliveries[0]
			if d.Status != tt.wantStatus || d.Verification != tt.wantVerification || !strings.Contains(d.Reason, tt.wantReason) ||
				!strings.HasPrefix(d.EventID, tt.wantEvent) || (tt.wantEvent == "") != (d.EventID == "") || d.Result != tt.wantResult || d.Kind != KindReceived || d.Body != tt.body {
				t.Errorf("recorded %+v", d)
			}
			if tt.wantReason == "" && d.Reason != "" {
				t.Errorf("reason %q, want none", d.Reason)
			}
			if tt.wantLog != "" && !strings.Contains(strings.Join(d.Log, "\n"), tt.wantLog) {
				t.Errorf("log %q, want a line with %q", d.Log, tt.wantLog)
			}
			for _, h := range d.Headers {
				credential := h.Name == "X-Hub-Signature-256" || h.Name == "Stripe-Signature" || h.Name == "X-Ci-Check"
				if credential && (!h.Masked || !strings.HasSuffix(h.Value, mask)) {
					t.Errorf("header %s shown as %q, want it masked", h.Name, h.Value)
				}
			}
		})
	}
	if got := rn.list().Deliveries; len(got) != len(tests) || got[0].Seq != int64(len(tests)) {
		t.Errorf("listed %d deliveries, newest #%d; want %d, newest first", len(got), got[0].Seq, len(tests))
	}
}

// A replay is the request as received: once its signed timestamp is older
// than the tolerance it is refused as a replay, which is the protection
// working; re-signed, the same body passes again.
func TestReplayAsReceivedAndResigned(t *testing.T) {
	rn := newRunner(t)
	if got := rn.post("/store/stripe", stripeEvent, stripeKey, nil); got != 200 {
		t.Fatalf("signed stripe event: %d", got)
	}
	status, d := rn.act(1, "replay")
	if status != 200 || d.Kind != KindReplay || d.Of != 1 || d.Status != 200 || d.Verification != VerifyPassed {
		t.Errorf("prompt replay: %d %+v", status, d)
	}
	rn.advance(10 * time.Minute)
	status, d = rn.act(1, "replay")
	if status != 200 || d.Status != 401 || d.Verification != VerifyFailed || !strings.Contains(d.Reason, "too old") {
		t.Errorf("replay 10 minutes later: %d %+v, want a 401 for the old timestamp", status, d)
	}
	status, d = rn.act(1, "resign")
	if status != 200 || d.Kind != KindResigned || d.Of != 1 || d.Status != 200 || d.Verification != VerifyPassed || d.Body != stripeEvent {
		t.Errorf("re-signed: %d %+v", status, d)
	}
	if n := len(rn.events); n != 3 {
		t.Errorf("the function ran %d times, want 3 (received, prompt replay, re-signed)", n)
	}
	if status, _ := rn.act(99, "replay"); status != http.StatusNotFound {
		t.Errorf("replay of an unknown delivery: %d, want 404", status)
	}
	rn.post("/store/open", `{"id":"o-1"}`, "", nil)
	if status, _ := rn.act(5, "resign"); status != http.StatusConflict {
		t.Errorf("re-sign for a source without a key: %d, want 409", status)
	}
}

// The list survives a restart. A secret itself (a token header, a token
// payload field) is never written down: it replays only until the runner
// stops, and afterwards the replay says so and re-signing still works.
func TestListSurvivesRestartWithoutSecrets(t *testing.T) {
	rn := newRunner(t)
	rn.post("/store/github", ghPush, githubKey, http.Header{"X-Github-Event": {"push"}, "X-Github-Delivery": {"d-1"}})
	rn.post("/store/ci", `{"id":"ci-1"}`, ciToken, nil)
	rn.post("/store/form", `{"id":"f-1","token":"`+formToken+`"}`, "", nil)
	for _, seq := range []int64{2, 3} {
		if _, d := rn.act(seq, "replay"); d.Status != 200 || d.Note != "" {
			t.Errorf("replay of #%d before the restart: %+v", seq, d)
		}
	}
	if got := rn.list().Deliveries[2]; got.Body != `{"id":"f-1"}` {
		t.Errorf("token field kept in the record: %s", got.Body)
	}

	rn.restart()
	l := rn.list()
	if len(l.Deliveries) != 5 || l.Deliveries[4].Source != "github" || l.Deliveries[4].EventID != "d-1" {
		t.Fatalf("after a restart: %+v", l.Deliveries)
	}
	file, err := os.ReadFile(filepath.Join(rn.dir, "deliveries.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{ciToken, formToken} {
		if bytes.Contains(file, []byte(secret)) {
			t.Errorf("the file holds the secret %q", secret)
		}
	}
	if !bytes.Contains(file, []byte("X-Hub-Signature-256")) {
		t.Errorf("the file lacks the signature header that a replay needs")
	}
	if _, d := rn.act(1, "replay"); d.Status != 200 {
		t.Errorf("replay of a signed delivery after the restart: %+v", d)
	}
	for _, seq := range []int64{2, 3} {
		_, d := rn.act(seq, "replay")
		if d.Status != 401 || !strings.Contains(d.Note, "re-sign") {
			t.Errorf("replay of #%d after the restart: %+v, want a 401 with a note", seq, d)
		}
	}
	if _, d := rn.act(2, "resign"); d.Status != 200 || d.Verification != VerifyPassed {
		t.Errorf("re-signed token delivery after the restart: %+v", d)
	}
	if got := rn.list().Deliveries[0].Seq; got != 9 {
		t.Errorf("numbering after the restart reached #%d, want #9", got)
	}
}

// The file keeps the last Keep deliveries, rewritten when it grows to
// twice that.
func TestFileKeepsTheLastDeliveries(t *testing.T) {
	dir := t.TempDir()
	insp, err := New(Options{Dir: dir, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	h := insp.Record(http.NotFoundHandler())
	for range 10 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/store/x", strings.NewReader("{}")))
	}
	if err := insp.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "deliveries.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n > 6 {
		t.Errorf("file has %d lines, want at most 6", n)
	}
	again, err := New(Options{Dir: dir, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	all, _, _ := again.snapshot()
	if len(all) != 3 || all[0].Seq != 10 || all[2].Seq != 8 {
		t.Errorf("reloaded %d deliveries, newest #%d; want #10..#8", len(all), all[0].Seq)
	}
}

// Attacks on the page: another machine, a DNS-rebinding site (its own
// name resolving to 127.0.0.1), and a cross-site form or fetch in the
// developer's browser. Each is refused before anything is replayed.
func TestPageAnswersOnlyThisMachinesOwnPages(t *testing.T) {
	rn := newRunner(t)
	rn.post("/store/open", `{"id":"o-1"}`, "", nil)
	page := rn.insp.Page()
	tests := []struct {
		name, method, target, remote, host string
		header                             map[string]string
		want                               int
	}{
		{"another machine", "GET", Path, "192.0.2.7:5000", "localhost:8080", nil, 403},
		{"dns rebinding", "GET", Path + "api/deliveries", "127.0.0.1:5000", "attacker.example:8080", nil, 403},
		{"cross-site form post", "POST", Path + "api/deliveries/1/replay", "127.0.0.1:5000", "localhost:8080", nil, 403},
		{"cross-origin fetch", "POST", Path + "api/deliveries/1/replay", "127.0.0.1:5000", "localhost:8080",
			map[string]string{ActionHeader: "1", "Origin": "http://attacker.example"}, 403},
		{"the page itself", "GET", Path, "127.0.0.1:5000", "localhost:8080", nil, 200},
		{"the page's replay", "POST", Path + "api/deliveries/1/replay", "[::1]:5000", "[::1]:8080",
			map[string]string{ActionHeader: "1", "Origin": "http://[::1]:8080"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			page.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
		})
	}
	if n := len(rn.list().Deliveries); n != 2 {
		t.Errorf("%d deliveries after the attacks, want 2 (one sent, one replayed by the page)", n)
	}
}
