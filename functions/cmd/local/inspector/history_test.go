package inspector

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/testenv"
)

// The page masks the signature bytes only: Stripe's t= (the timestamp a
// reader needs to tell why a replay is too old) and each part's name stay
// visible; no byte of a signature and nothing of a token is shown.
func TestShownMaskKeepsWhatIsNotSecret(t *testing.T) {
	rn := newRunner(t)
	rn.post("/store/stripe", stripeEvent, stripeKey, nil)
	rn.post("/store/github", ghPush, githubKey, http.Header{"X-Github-Event": {"push"}})
	rn.post("/store/ci", `{"id":"ci-1"}`, ciToken, nil)
	want := map[string]*regexp.Regexp{
		"Stripe-Signature":    regexp.MustCompile(`^t=` + strconv.FormatInt(rn.clock().Unix(), 10) + `,v1=` + mask + `$`),
		"X-Hub-Signature-256": regexp.MustCompile(`^sha256=` + mask + `$`),
		"X-Ci-Check":          regexp.MustCompile(`^` + mask + `$`),
	}
	seen := 0
	for _, d := range rn.list().Deliveries {
		for _, h := range d.Headers {
			re, ok := want[h.Name]
			if !ok {
				continue
			}
			seen++
			if !re.MatchString(h.Value) {
				t.Errorf("%s shown as %q, want %s", h.Name, h.Value, re)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("saw %d of the %d credential headers", seen, len(want))
	}
	for _, v := range []struct{ in, want string }{
		{"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1a,abc", "v1," + mask + " v1a," + mask},
		{"dGhpcy1pcy1iYXNlNjQtc2lnbmF0dXJlLWJ5dGVzLWhlcmU=", mask},
	} {
		if got := showValue(Header{Name: "X-Signature", Value: v.in, Masked: true}); got != v.want {
			t.Errorf("showValue(%q) = %q, want %q", v.in, got, v.want)
		}
	}
}

// A flood of successes (a load run, or Trigger's own signed calls to the
// runner's Store) does not push a refused delivery out of the list or
// the file: 2xx and the rest each keep their own Keep slots.
func TestSuccessesDoNotCrowdOutFailures(t *testing.T) {
	dir := t.TempDir()
	insp, err := New(Options{Dir: dir, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/forged") {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		}
	})
	h := insp.Record(ok)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/store/forged", strings.NewReader("{}")))
	for range 20 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/store/standard", strings.NewReader("{}")))
	}
	check := func(when string, insp *Inspector) {
		all, _, _ := insp.snapshot()
		if len(all) != 4 || all[0].Seq != 21 || all[3].Seq != 1 || all[3].Status != http.StatusUnauthorized {
			var got []string
			for _, d := range all {
				got = append(got, strconv.FormatInt(d.Seq, 10)+":"+strconv.Itoa(d.Status))
			}
			t.Errorf("%s: listed %v, want #21..#19 and the refused #1", when, got)
		}
	}
	check("running", insp)
	if err := insp.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := New(Options{Dir: dir, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	check("after a restart", again)
}

// Copy as curl gives a command that, pasted in a terminal, sends the
// delivery again as received: the real curl sends it to the runner and
// the pipeline verifies its signature (the signature headers are in it).
// A token header, the secret itself, is not in the command.
func TestCurlCommandReplaysFromATerminal(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		testenv.Missing(t, "curl", err)
	}
	rn := newRunner(t)
	body := stripeEvent[:len(stripeEvent)-1] + `,"note":"it's $HOME \\ and \"quotes\"\n"}`
	if got := rn.post("/store/stripe", body, stripeKey, http.Header{"User-Agent": {"Stripe/1.0"}}); got != 200 {
		t.Fatalf("signed stripe event: %d", got)
	}
	rn.post("/store/ci", `{"id":"ci-1"}`, ciToken, nil)
	get := func(seq int) string {
		resp, err := http.Get(rn.srv.URL + Path + "api/deliveries/" + strconv.Itoa(seq) + "/curl")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("curl of #%d: %d %s", seq, resp.StatusCode, b.String())
		}
		return b.String()
	}
	cmd := get(1)
	if !strings.Contains(cmd, "Stripe-Signature: t=") {
		t.Errorf("the command lacks the signature header:\n%s", cmd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sh := exec.CommandContext(ctx, "sh", "-c", strings.Replace(cmd, "curl ", curl+" ", 1))
	out, err := sh.CombinedOutput()
	if err != nil || !bytes.HasPrefix(out, []byte("HTTP/1.1 200")) {
		t.Fatalf("the command: %v\n%s\n%s", err, cmd, out)
	}
	d := rn.list().Deliveries[0]
	if d.Seq != 3 || d.Status != 200 || d.Verification != VerifyPassed || d.Body != body {
		t.Errorf("sent from the terminal: %+v", d)
	}
	if ci := get(2); strings.Contains(ci, ciToken) || !strings.Contains(ci, "# Not repeated: header X-Ci-Check") {
		t.Errorf("a token delivery as curl:\n%s", ci)
	}
}

// A replay says how it differs from its original; a re-signed delivery
// whose original failed verification (a tampered body, signed afresh by
// the inspector) is marked as such on the page and in what the function
// keeps, with its changed signature listed.
func TestReplayShowsItsDifferencesAndResignIsMarked(t *testing.T) {
	rn := newRunner(t)
	if got := rn.post("/store/stripe", stripeEvent, "whsec_not-the-key-0123456789", nil); got != 401 {
		t.Fatalf("forged stripe event: %d", got)
	}
	_, replay := rn.act(1, "replay")
	if strings.Join(replay.Changes, "; ") != "body: the same "+strconv.Itoa(len(stripeEvent))+" bytes" {
		t.Errorf("replay as received: changes %q", replay.Changes)
	}
	_, d := rn.act(1, "resign")
	if d.Status != 200 || d.Kind != KindResigned {
		t.Fatalf("re-signed: %+v", d)
	}
	got := strings.Join(d.Changes, "; ")
	for _, want := range []string{"header Stripe-Signature: changed", "header " + ResignedHeader + ": added", "body: the same"} {
		if !strings.Contains(got, want) {
			t.Errorf("re-signed changes %q, want %q", got, want)
		}
	}
	if !strings.Contains(d.Note, "never signed by its sender") {
		t.Errorf("re-signed note %q, want it to say the body was never signed", d.Note)
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if n := len(rn.events); n != 1 || !strings.Contains(rn.events[0].Headers[ResignedHeader], "#1") {
		t.Errorf("the function kept %d events; want one, marked re-signed: %+v", n, rn.events)
	}
}
