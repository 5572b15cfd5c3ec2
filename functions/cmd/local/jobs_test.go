package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/functions/cmd/local/inspector"
	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// inspected is the runner as realMain serves it, on loopback (the port
// the sample's Trigger action calls): its routes, recorded by an
// inspector whose history is in dir.
type inspected struct {
	t    *testing.T
	cfg  *config.File
	dir  string
	insp *inspector.Inspector
	srv  *httptest.Server
}

func serveInspected(t *testing.T) *inspected {
	t.Helper()
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	in := &inspected{t: t, cfg: cfg, dir: t.TempDir()}
	in.insp = in.open()
	_, port, _ := net.SplitHostPort(loopbackAddr)
	h, _, err := routes(context.Background(), "http://localhost:"+port, router{strings.Trim(inspector.Path, "/"): in.insp.Page()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.srv = httptest.NewUnstartedServer(in.insp.Record(h))
	in.srv.Listener = loopbackListener(t)
	in.srv.Start()
	t.Cleanup(in.srv.Close)
	return in
}

// open opens the inspector's history, as the runner does at start-up.
func (in *inspected) open() *inspector.Inspector {
	in.t.Helper()
	insp, err := inspector.New(inspector.Options{Dir: in.dir, Config: in.cfg, Secrets: secrets.Process()})
	if err != nil {
		in.t.Fatal(err)
	}
	in.t.Cleanup(func() { _ = insp.Close() })
	return insp
}

// push sends a push to main to trigger/github, signed with the runner's
// development key as `send` signs it, with GitHub's delivery id id.
func (in *inspected) push(id string) int {
	t := in.t
	t.Helper()
	var src config.Source
	for _, s := range in.cfg.Function("trigger").Sources {
		if s.Name == "github" {
			src = s
		}
	}
	ref, err := secrets.ParseRef(src.Verify.Secret)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(os.Getenv("WEBHOOKS_SECRETS_DIR"), ref.SecretID()))
	if err != nil {
		t.Fatal(err)
	}
	key, _, _ = bytes.Cut(key, []byte("\n"))
	body := []byte(`{"ref":"refs/heads/main","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","deleted":false,` +
		`"repository":{"full_name":"octo-org/octo-repo"},"pusher":{"name":"octocat"},"commits":[]}`)
	req, err := http.NewRequest(http.MethodPost, in.srv.URL+"/trigger/github", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", id)
	if err := verify.Sign(src.Verify, key, time.Now(), req, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// deliveries asks the inspector page at base for its list, as the page
// does: at once when version is not the list's, else when it changes.
func deliveries(ctx context.Context, t *testing.T, base string, version int64) ([]inspector.Delivery, int64) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+inspector.Path+"api/deliveries?after="+strconv.FormatInt(version, 10), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the inspector's list: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return nil, version
	}
	var l struct {
		Deliveries []inspector.Delivery `json:"deliveries"`
		Version    int64                `json:"version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	return l.Deliveries, l.Version
}

// waitDelivery long-polls the inspector's list until a delivery satisfies
// cond, and returns it.
func (in *inspected) waitDelivery(what string, cond func(inspector.Delivery) bool) inspector.Delivery {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for version := int64(-1); ; {
		var list []inspector.Delivery
		if list, version = deliveries(ctx, in.t, in.srv.URL, version); ctx.Err() != nil {
			in.t.Fatalf("no %s in the inspector's list", what)
		}
		for _, d := range list {
			if cond(d) {
				return d
			}
		}
	}
}

// jobsOf maps a delivery's jobs by rule/action.
func jobsOf(d inspector.Delivery) map[string]inspector.Job {
	out := map[string]inspector.Job{}
	for _, j := range d.Jobs {
		out[j.Rule+"/"+j.Action] = j
	}
	return out
}

// A push to main, through the runner's real wiring and its embedded
// sample, queues two async jobs on the in-process queue and is answered
// 202 queued at once; the inspector's record of that delivery then gains
// what each job did once it ran: the http action's call to the runner's
// own store/standard (its answer, status 200) and the recorded Cloud
// Build run (its id). The same delivery again is answered the same, and
// its jobs end as duplicates. Both records are in the saved history,
// which holds no signing key.
func TestTheInspectorShowsWhatEachTriggerJobDid(t *testing.T) {
	in := serveInspected(t)
	id := "jobs-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	const notify, build = "notify-push-to-main/notify", "deploy-staging/cloud-build"
	_, port, _ := net.SplitHostPort(loopbackAddr)

	if got := in.push(id); got != http.StatusAccepted {
		t.Fatalf("push answered %d, want 202", got)
	}
	first := in.waitDelivery("the first delivery's two jobs", func(d inspector.Delivery) bool {
		return d.Function == "trigger" && d.EventID == id && len(d.Jobs) == 2
	})
	jobs := jobsOf(first)
	if j := jobs[notify]; j.Result != "ran" || j.Answer != "http POST localhost:"+port+": status 200" || j.Error != "" {
		t.Errorf("notify job %+v, want ran with the answer http POST localhost:%s: status 200", j, port)
	}
	if j := jobs[build]; j.Result != "ran" || !strings.HasPrefix(j.Answer, "build local/cloudbuild/") {
		t.Errorf("cloud-build job %+v, want ran with the recorded build's id", j)
	}
	if first.Status != http.StatusAccepted || first.Result != "queued" {
		t.Errorf("delivery answered %d %q, want 202 queued", first.Status, first.Result)
	}
	in.waitDelivery("the notify action's call to store/standard", func(d inspector.Delivery) bool {
		return d.Function == "store" && d.Source == "standard" && d.Status == http.StatusOK && d.Result == "stored"
	})

	if got := in.push(id); got != http.StatusAccepted {
		t.Fatalf("the same delivery again answered %d, want 202", got)
	}
	again := in.waitDelivery("the second delivery's two jobs", func(d inspector.Delivery) bool {
		return d.Function == "trigger" && d.EventID == id && d.Seq != first.Seq && len(d.Jobs) == 2
	})
	for name, j := range jobsOf(again) {
		if j.Result != "duplicate" || j.Answer != "" {
			t.Errorf("job %s of the same delivery again: %+v, want duplicate", name, j)
		}
	}

	in.srv.Close()
	if err := in.insp.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := httptest.NewServer(in.open().Page())
	defer reopened.Close()
	list, _ := deliveries(context.Background(), t, reopened.URL, -1)
	saved := map[int64]int{}
	for _, d := range list {
		saved[d.Seq] = len(d.Jobs)
	}
	if saved[first.Seq] != 2 || saved[again.Seq] != 2 {
		t.Errorf("the saved history keeps %d and %d jobs of the two deliveries, want 2 each", saved[first.Seq], saved[again.Seq])
	}
	// The key the notify action signs with is in no record of it.
	key, err := os.ReadFile(filepath.Join(os.Getenv("WEBHOOKS_SECRETS_DIR"), "standard-webhook-secret"))
	if err != nil {
		t.Fatal(err)
	}
	history, err := os.ReadFile(filepath.Join(in.dir, "deliveries.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if k := bytes.TrimSpace(key); len(k) == 0 || bytes.Contains(history, k) || bytes.Contains(history, bytes.TrimPrefix(k, []byte("whsec_"))) {
		t.Error("the saved history holds the notify action's signing key")
	}
}
