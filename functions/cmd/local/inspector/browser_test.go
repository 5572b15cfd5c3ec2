package inspector

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	_ "github.com/cloudhooks/webhooks/functions/store"   // registers Store, as the local runner's import does
	_ "github.com/cloudhooks/webhooks/functions/trigger" // and Trigger
	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/testenv"
	"github.com/cloudhooks/webhooks/shared/verify"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the browser test's screenshot to testdata/screenshot.png (docs/local.md shows it)")

// chromium finds Debian's chromium (`apt-get install chromium`, which the
// README's test command does on a fresh machine).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	testenv.Missing(t, "chromium", errors.New("not on PATH (apt-get install chromium)"))
	return ""
}

// The page in a real browser, served the way `make run` serves it (the
// registered Store and Trigger functions with the embedded configuration
// and local development keys): a delivery sent to Store appears without a
// reload, with its verdict, full timestamp and latency; the Replay button
// sends it again through the same handler, and the replay appears above
// it. A 422 from Trigger's rule and a 400 for a bad body, both verified,
// are shown refused, not passed. The filters and the search narrow the
// list; Copy as curl shows the command with its signature header; a
// re-signed forgery is marked changed. A push to main that Trigger's
// sample rules queue as two jobs shows what each job did once it ran:
// the http action's answer and the recorded build.
func TestBrowserListsAndReplaysDeliveries(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	t.Setenv("WEBHOOKS_SECRETS_DIR", filepath.Join(dir, "secrets"))
	t.Setenv("WEBHOOKS_DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("LOG_LEVEL", "warn")
	// The sample's Trigger action calls the runner itself: listen first,
	// and point it at this port as the runner does with PORT. The functions read the file when first
	// looked up, below: no other test of this package looks them up.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	sources := filepath.Join(dir, "webhooks.yaml")
	if err := os.WriteFile(sources, config.OnPort(config.Embedded(), port), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(config.EnvPath, sources)
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	src, ok := sourceOf(cfg, "store", "github")
	if !ok {
		t.Fatal("the embedded configuration has no store/github source")
	}
	ref, err := secrets.ParseRef(src.Verify.Secret)
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("browser-test-development-key")
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", ref.SecretID()), append(key, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	// Trigger's job key, which the runner writes on first run, and the key
	// the sample's http action signs with and store/standard verifies.
	for name, key := range map[string]string{"trigger-job-key": "browser-test-job-key-0123456789",
		"standard-webhook-secret": "whsec_" + base64.StdEncoding.EncodeToString([]byte("browser-test-standard-key-012345"))} {
		if err := os.WriteFile(filepath.Join(dir, "secrets", name), []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	ctx := context.Background()
	store, err := pipeline.Lookup(ctx, "Store")
	if err != nil {
		t.Fatal(err)
	}
	insp, err := New(Options{Dir: filepath.Join(dir, "data", "inspector"), Config: cfg, Secrets: secrets.Process()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = insp.Close() })
	mux := http.NewServeMux()
	trig, err := pipeline.Lookup(ctx, "Trigger")
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/store/", http.StripPrefix("/store", store))
	mux.Handle("/trigger/", http.StripPrefix("/trigger", trig))
	mux.Handle(Path, insp.Page())
	srv := httptest.NewUnstartedServer(insp.Record(mux))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)

	alloc, cancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "chromium")),
		chromedp.WindowSize(1400, 1800),
	)
	defer cancel()
	tab, cancel := chromedp.NewContext(alloc)
	defer cancel()
	tab, cancel = context.WithTimeout(tab, 90*time.Second)
	defer cancel()

	if err := chromedp.Do(tab); err != nil { // starts the browser
		testenv.Missing(t, "a working chromium", err)
	}
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+Path), chromedp.WaitVisible(chromedp.CSS("#list"))); err != nil {
		t.Fatalf("open the page: %v", err)
	}

	body := []byte(`{"ref":"refs/heads/main","repository":{"full_name":"octo-org/octo-repo"},"commits":[]}`)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/store/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	if err := verify.Sign(src.Verify, key, time.Now(), req, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("delivery answered %d", resp.StatusCode)
	}

	const first = `.delivery[data-seq="1"]`
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(first))); err != nil {
		t.Fatalf("the delivery did not appear: %v", err)
	}
	code, verdict, result, event := text(first+" .status"), text(first+" .verification"), text(first+" .result"), text(first+" .event")
	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(first+" button.replay")),
		chromedp.WaitVisible(chromedp.CSS(`.delivery[data-seq="2"][data-kind="replay"]`)),
	); err != nil {
		t.Fatalf("the replay did not appear: %v", err)
	}
	order, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".delivery")].map(e => e.dataset.seq + ":" + e.dataset.kind)`))
	if err != nil {
		t.Fatal(err)
	}
	// A delivery signed with the wrong key shows why it was refused.
	forged, _ := http.NewRequest(http.MethodPost, srv.URL+"/store/github", bytes.NewReader(body))
	forged.Header.Set("Content-Type", "application/json")
	forged.Header.Set("X-GitHub-Event", "push")
	if err := verify.Sign(src.Verify, []byte("not-the-key-0123456789"), time.Now(), forged, body); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(forged); err != nil || resp.Body.Close() != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged delivery: %v %v", resp, err)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(`.delivery[data-seq="3"] .verification.bad`))); err != nil {
		t.Fatalf("the refused delivery did not appear: %v", err)
	}
	if refused := text(`.delivery[data-seq="3"] .verification`); !strings.HasPrefix(refused, VerifyFailed+": ") || !strings.Contains(refused, "signature") {
		t.Errorf("refused delivery shown as %q, want the failed check", refused)
	}
	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(first+" .source")),
		chromedp.WaitVisible(chromedp.CSS(first+" .headers")),
	); err != nil {
		t.Fatalf("open the delivery: %v", err)
	}
	signature, err := chromedp.Run(tab, chromedp.Evaluate[string](`[...document.querySelectorAll('`+first+` .headers tr')]
		.filter(r => r.cells[0].textContent == "X-Hub-Signature-256").map(r => r.cells[1].textContent).join()`))
	if err != nil {
		t.Fatal(err)
	}
	stamp, latency := text(first+" .time"), text(first+" .latency")

	// Verified, then refused: Trigger's rule cannot read the push (422),
	// Store cannot decode the body (400).
	signed := func(path, id, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", id)
		if err := verify.Sign(src.Verify, key, time.Now(), req, []byte(body)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := signed("/trigger/github", "refused-by-trigger-github", `{"repository":{"full_name":"octo-org/octo-repo"}}`); got != http.StatusUnprocessableEntity {
		t.Fatalf("a push without ref to Trigger answered %d, want 422", got)
	}
	if got := signed("/store/github", "refused-by-store-github", `{"ref":`); got != http.StatusBadRequest {
		t.Fatalf("a bad body to Store answered %d, want 400", got)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(`.delivery[data-seq="5"]`))); err != nil {
		t.Fatalf("the refused deliveries did not appear: %v", err)
	}
	for _, seq := range []string{"4", "5"} {
		sel := `.delivery[data-seq="` + seq + `"] .verification`
		class, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('`+sel+`').className`))
		if err != nil {
			t.Fatal(err)
		}
		if v := text(sel); strings.HasPrefix(v, VerifyPassed) || !strings.HasPrefix(v, "refused after verifying: ") || !strings.Contains(class, "bad") {
			t.Errorf("#%s (status %s) shown as %q, class %q; want it refused, not passed", seq, text(`.delivery[data-seq="`+seq+`"] .status`), v, class)
		}
	}

	listed := func() string {
		t.Helper()
		seqs, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".delivery")].map(e => e.dataset.seq)`))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(seqs, " ")
	}
	choose := func(id, value string) {
		t.Helper()
		if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => { const f = document.getElementById("`+id+`");
			f.value = "`+value+`"; f.dispatchEvent(new Event("input")); return f.value === "`+value+`"; })()`)); err != nil {
			t.Fatal(err)
		}
	}
	choose("f-function", "trigger")
	if got := listed(); got != "4" {
		t.Errorf("filtered to Trigger: listed %q, want 4", got)
	}
	choose("f-function", "")
	choose("f-status", "2xx")
	if got := listed(); got != "2 1" {
		t.Errorf("filtered to 2xx: listed %q, want 2 1", got)
	}
	choose("f-status", "4xx")
	if got := listed(); got != "5 4 3" {
		t.Errorf("filtered to 4xx: listed %q, want 5 4 3", got)
	}
	choose("f-status", "")
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS("#f-search"), "72d3162e")); err != nil {
		t.Fatal(err)
	}
	if got := listed(); got != "2 1" {
		t.Errorf("searched for the delivery id: listed %q, want 2 1", got)
	}
	choose("f-search", "")
	if got := listed(); got != "5 4 3 2 1" {
		t.Errorf("filters cleared: listed %q, want every delivery", got)
	}

	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(first+" button.curl")),
		chromedp.WaitVisible(chromedp.CSS(first+" pre.curl")),
	); err != nil {
		t.Fatalf("copy as curl: %v", err)
	}
	curl := text(first + " pre.curl")
	for _, want := range []string{"curl ", "'" + srv.URL + "/store/github'", "-H 'X-Hub-Signature-256: sha256=", "-H 'X-Github-Delivery: 72d3162e", "--data-binary @-"} {
		if !strings.Contains(curl, want) {
			t.Errorf("curl text lacks %q:\n%s", want, curl)
		}
	}

	// The forgery re-signed passes, and is marked changed.
	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(`.delivery[data-seq="3"] button.resign`)),
		chromedp.WaitVisible(chromedp.CSS(`.delivery[data-seq="6"][data-kind="re-signed"] .mark.changed`)),
	); err != nil {
		t.Fatalf("the re-signed forgery is not marked changed: %v", err)
	}

	// A push to main: Trigger answers 202 queued, then its two jobs run on
	// the in-process queue, and the page shows what each did.
	push := `{"ref":"refs/heads/main","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","deleted":false,` +
		`"repository":{"full_name":"octo-org/octo-repo"},"pusher":{"name":"octocat"},"commits":[]}`
	if got := signed("/trigger/github", "9a1b7c2e-cc78-11e3-81ab-4c9367dc0958", push); got != http.StatusAccepted {
		t.Fatalf("a push to main to Trigger answered %d, want 202", got)
	}
	// The notify job's call to store/standard is a delivery too: the
	// Trigger delivery is #7 or #8, whichever was answered first.
	const queued = `.delivery[data-function="trigger"][data-status="202"]`
	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(first+" .source")), // closed again: the screenshot shows the jobs
		chromedp.WaitVisible(chromedp.CSS(queued+" .result .jobs")),
	); err != nil {
		t.Fatalf("the Trigger delivery's jobs did not appear: %v", err)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`document.querySelector('`+queued+` .result .jobs').textContent === "2 ran"`)); err != nil {
		t.Fatalf("the Trigger delivery's jobs shown as %q, want 2 ran: %v", text(queued+" .result .jobs"), err)
	}
	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(queued+" .source")),
		chromedp.WaitVisible(chromedp.CSS(queued+" table.jobs")),
	); err != nil {
		t.Fatalf("open the Trigger delivery: %v", err)
	}
	jobs, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll('`+queued+` table.jobs tr')]
		.map(r => [...r.cells].slice(0, 3).map(c => c.textContent).join(" | ")).sort()`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if code != "200" || verdict != VerifyPassed || result != "stored" || !strings.Contains(event, "push") {
		t.Errorf("first delivery shown as status %q, verification %q, result %q, event %q", code, verdict, result, event)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$`).MatchString(stamp) || !strings.HasSuffix(latency, " ms") {
		t.Errorf("row shows time %q and latency %q, want the full timestamp and the latency in ms", stamp, latency)
	}
	if len(jobs) != 2 || !strings.HasPrefix(jobs[0], "deploy-staging / cloud-build | ran | build local/cloudbuild/") ||
		jobs[1] != "notify-push-to-main / notify | ran | http POST localhost:"+port+": status 200" {
		t.Errorf("the Trigger delivery's jobs shown as %q, want both ran, with the recorded build and the http status", jobs)
	}
	if strings.Join(order, " ") != "2:replay 1:received" {
		t.Errorf("list order %v, want the replay above the delivery", order)
	}
	if signature != "sha256="+mask {
		t.Errorf("signature header shown as %q, want its bytes masked", signature)
	}
	rows, err := os.ReadFile(filepath.Join(dir, "data", "store", "github.ndjson"))
	if err != nil || bytes.Count(rows, []byte("\n")) != 3 || !bytes.Contains(rows, []byte(ResignedHeader)) {
		t.Errorf("Store wrote %d rows (%v), want 3: the delivery, its replay and the re-signed forgery, marked", bytes.Count(rows, []byte("\n")), err)
	}

	out := filepath.Join(t.ArtifactDir(), "screenshot.png")
	if *updateScreenshot {
		out = filepath.Join("testdata", "screenshot.png")
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
}
