package trigger

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/pipeline/pipelinetest"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// A signed body with two readings (duplicate names, text that is not
// UTF-8) is refused with 400 and runs nothing: Store refuses the same
// bodies, so no action differs from the stored event.
func TestBodiesWithTwoReadingsRunNothing(t *testing.T) {
	rcv := newReceiver(t, 200)
	d, _ := testDeps(t)
	tr := newTrigger(t, httpRule(rcv.srv.URL, "      body: '{\"ref\":{{json .payload.ref}}}'\n"), d)
	deliver := githubPushes(t, tr)
	for i, body := range []string{
		`{"ref":"refs/heads/main","ref":"refs/heads/evil"}`,
		`{"ref":"refs/heads/main","commits":[{"id":"a","id":"b"}]}`,
		"{\"ref\":\"refs/heads/evil\xff\"}",
		`{"ref":"refs/heads/evil\ud800"}`,
	} {
		if code := deliver(fmt.Sprintf("d-%d", i), body); code != http.StatusBadRequest {
			t.Errorf("body %q: status %d, want 400", body, code)
		}
	}
	if _, bodies := rcv.got(); len(bodies) != 0 {
		t.Fatalf("the action ran %d times for refused bodies, first with %s", len(bodies), bodies[0])
	}
	if code := deliver("d-ok", `{"ref":"refs/heads/main"}`); code != http.StatusOK {
		t.Fatalf("a plain push: status %d, want 200", code)
	}
	if _, bodies := rcv.got(); len(bodies) != 1 || string(bodies[0]) != `{"ref":"refs/heads/main"}` {
		t.Errorf("the action ran %d times, want once for the plain push", len(bodies))
	}
}

// The reading battery (package pipelinetest): repeated signature and
// identity headers, identity headers that are not UTF-8, content
// encodings, top-level JSON shapes. Trigger answers each case with the
// status Store and Relay answer it with.
func TestTriggerReadsARequestAsEveryFunctionDoes(t *testing.T) {
	rcv := newReceiver(t, 200)
	d, _ := testDeps(t)
	tr := newTrigger(t, httpRule(rcv.srv.URL, ""), d)
	handler, err := pipeline.New(context.Background(), &config.Function{Sources: []config.Source{pipelinetest.Source()}}, pipelinetest.Secrets,
		func(context.Context, config.Source) (pattern.Pattern, error) { return tr, nil }, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pipelinetest.RunReadingBattery(t, handler)
}

// X's and Discord's ids are 64-bit integers: read as float64 they round,
// 12345678901234567891 to 12345678901234567168, so a condition meant for
// one id matched its neighbours and templates wrote other digits than
// Store keeps. The attack: the neighbour's event must run nothing, and
// the id's own event must reach the action as its digits, in JSON and in
// text.
func TestA64BitIDReachesActionsAsItsDigits(t *testing.T) {
	rcv := newReceiver(t, 200)
	d, _ := testDeps(t)
	rule := httpRule(rcv.srv.URL, "      body: '{\"id\":{{json .payload.user.id}},\"text\":\"{{.payload.user.id}}\",\"small\":{{.payload.n}}}'\n") +
		"  condition: payload.user.id == 12345678901234567891u && payload.n == 2.5\n"
	tr := newTrigger(t, rule, d)
	deliver := githubPushes(t, tr)
	if code := deliver("d-neighbour", `{"user":{"id":12345678901234567168},"n":2.5}`); code != http.StatusOK {
		t.Fatalf("the neighbour's event: status %d, want 200", code)
	}
	if _, bodies := rcv.got(); len(bodies) != 0 {
		t.Fatalf("the neighbour's event ran the action: %s", bodies[0])
	}
	if code := deliver("d-id", `{"user":{"id":12345678901234567891},"n":2.5}`); code != http.StatusOK {
		t.Fatalf("the id's event: status %d, want 200", code)
	}
	_, bodies := rcv.got()
	if want := `{"id":12345678901234567891,"text":"12345678901234567891","small":2.5}`; len(bodies) != 1 || string(bodies[0]) != want {
		t.Fatalf("the action got %q, want once %s", bodies, want)
	}
}

// githubPushes runs the pipeline over pat for one github source and
// returns a delivery of a push signed as GitHub signs it: its status.
func githubPushes(t *testing.T, pat pattern.Pattern) func(id, body string) int {
	t.Helper()
	src := config.Source{Name: "github", Verify: verify.Config{Scheme: "github", Secret: "env:KEY"}}
	handler, err := pipeline.New(context.Background(), &config.Function{Sources: []config.Source{src}}, memSecrets{"env:KEY": "trigger-test-key-0123456789"},
		func(context.Context, config.Source) (pattern.Pattern, error) { return pat, nil }, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return func(id, body string) int {
		r := httptest.NewRequest(http.MethodPost, "/github", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-GitHub-Event", "push")
		r.Header.Set("X-GitHub-Delivery", id)
		if err := verify.Sign(src.Verify, []byte("trigger-test-key-0123456789"), time.Now(), r, []byte(body)); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w.Code
	}
}
