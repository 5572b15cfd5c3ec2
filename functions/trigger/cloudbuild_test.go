package trigger

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	cloudbuild "cloud.google.com/go/cloudbuild/apiv1/v2"
	"google.golang.org/grpc/codes"

	"github.com/cloudhooks/webhooks/functions/trigger/cloudbuildtest"
	"github.com/cloudhooks/webhooks/shared/event"
)

const deployRule = `
- name: deploy-staging
  events: [push]
  condition: payload.ref == "refs/heads/main"
  mode: sync
  actions:
    - name: build
      type: cloudbuild
      project: build-project
      trigger: 0b9d1c2e-deploy-staging
      region: europe-west1
      branch: "{{.payload.repository.default_branch}}"
      substitutions:
        _COMMIT_SHA: "{{.payload.after}}"
        _REPOSITORY: "{{.payload.repository.full_name}}"
      retry: {max_attempts: 3, initial_backoff: 1ms, max_backoff: 2ms}
`

// cloudBuildDeps returns deps whose builds go through the real client to
// an in-process Cloud Build server.
func cloudBuildDeps(t *testing.T) (*deps, *cloudbuildtest.Server) {
	t.Helper()
	srv := cloudbuildtest.Start(t)
	c, err := cloudbuild.NewClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	d, _ := testDeps(t)
	d.builds = cloudBuildClient{c: c}
	return d, srv
}

func TestCloudBuildActionRunsTheTriggerWithItsSubstitutions(t *testing.T) {
	d, srv := cloudBuildDeps(t)
	tr := newTrigger(t, deployRule, d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d1"))
	wantStatus(t, out, err, 200, ResultRan)
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("Cloud Build got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.GetTriggerId() != "0b9d1c2e-deploy-staging" || r.GetProjectId() != "build-project" ||
		r.GetName() != "projects/build-project/locations/europe-west1/triggers/0b9d1c2e-deploy-staging" {
		t.Errorf("trigger: got id %q project %q name %q", r.GetTriggerId(), r.GetProjectId(), r.GetName())
	}
	want := map[string]string{"_COMMIT_SHA": "59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5", "_REPOSITORY": "octo-org/octo-repo"}
	if got := r.GetSource().GetSubstitutions(); len(got) != len(want) || got["_COMMIT_SHA"] != want["_COMMIT_SHA"] || got["_REPOSITORY"] != want["_REPOSITORY"] {
		t.Errorf("substitutions %v, want %v", got, want)
	}
	if b := r.GetSource().GetBranchName(); b != "main" {
		t.Errorf("branch %q, want main", b)
	}
}

func TestCloudBuildFailuresAreRetriedOrRefused(t *testing.T) {
	tests := []struct {
		name      string
		fail      []codes.Code
		status    int
		result    string
		wantCalls int
	}{
		{"unavailable then ok: retried within the request", []codes.Code{codes.Unavailable}, 200, ResultRan, 2},
		{"unavailable throughout: 503", []codes.Code{codes.Unavailable, codes.Unavailable, codes.Unavailable}, 503, "", 3},
		{"missing trigger: 422 without retrying", []codes.Code{codes.NotFound}, 422, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, srv := cloudBuildDeps(t)
			srv.FailNext(tt.fail...)
			tr := newTrigger(t, deployRule, d)
			out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d1"))
			wantStatus(t, out, err, tt.status, tt.result)
			if n := len(srv.Requests()); n != tt.wantCalls {
				t.Errorf("Cloud Build got %d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestCloudBuildIsRecordedInLocalRuns(t *testing.T) {
	d, _ := testDeps(t)
	tr := newTrigger(t, deployRule, d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "push", "d1"))
	wantStatus(t, out, err, 200, ResultRan)
	rec := d.builds.(*recorder)
	f, err := os.Open(rec.file.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		t.Fatal("nothing recorded")
	}
	var line struct {
		recordLine
		Build struct {
			TriggerID string `json:"trigger_id"`
			Source    struct {
				Substitutions map[string]string `json:"substitutions"`
			} `json:"source"`
		} `json:"build_trigger"`
	}
	if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line.Build.TriggerID != "0b9d1c2e-deploy-staging" || line.Event != "d1" || line.Rule != "deploy-staging" ||
		line.Build.Source.Substitutions["_COMMIT_SHA"] != "59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5" {
		t.Errorf("recorded %s", sc.Bytes())
	}
}

// prTitleRule passes a pull request's title to a build: a step that runs
// `bash -c "echo $_TITLE"` would run whatever the title says.
const prTitleRule = `
- name: preview
  events: [pull_request]
  mode: %s
  actions:
    - name: build
      type: cloudbuild
      project: build-project
      trigger: preview
      branch: "{{.payload.pull_request.head.ref}}"
      substitutions:
        _PR: "{{.payload.number}}"
        _TITLE: "{{.payload.pull_request.title}}"
      %s
      retry: {max_attempts: 1}
`

// prEvent is a pull_request event whose title and head branch are what the
// pull request's author wrote.
func prEvent(t *testing.T, title, branch string) *event.Event {
	t.Helper()
	ev := githubEvent(t, "pull_request", "d1")
	var p map[string]any
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		t.Fatal(err)
	}
	pr := p["pull_request"].(map[string]any)
	pr["title"] = title
	pr["head"].(map[string]any)["ref"] = branch
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	ev.Payload = b
	return ev
}

// TestAShellCommandInAPullRequestTitleStartsNoBuild performs the build
// injection: a pull request title or branch carrying shell syntax must not
// reach a build step as a substitution. The event is unprocessable (422
// for a sync rule; a queued job is dead-lettered, never retried) and no
// build starts.
func TestAShellCommandInAPullRequestTitleStartsNoBuild(t *testing.T) {
	for _, tt := range []struct{ name, title, branch string }{
		{"command substitution in the title", "Fix $(curl evil)", "retries"},
		{"backquotes in the title", "Fix `curl evil`", "retries"},
		{"a statement after a semicolon", "x; curl evil", "retries"},
		{"a quote in the title", `x" && curl evil "`, "retries"},
		{"a new line in the title", "x\ncurl evil", "retries"},
		{"command substitution in the branch", "Fix", "a$(curl${IFS}evil)"},
		{"an option for the branch", "Fix", "--upload-pack=curl"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, srv := cloudBuildDeps(t)
			tr := newTrigger(t, fmt.Sprintf(prTitleRule, "sync", ""), d)
			out, err := tr.Handle(context.Background(), prEvent(t, tt.title, tt.branch))
			wantStatus(t, out, err, 422, "")
			if !strings.Contains(err.Error(), "Cloud Build substitution") {
				t.Errorf("error %q does not say why", err)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("Cloud Build got %d requests, want none", n)
			}
		})
	}
	t.Run("a queued job is dead-lettered", func(t *testing.T) {
		d, srv := cloudBuildDeps(t)
		src, err := compileYAML(t, fmt.Sprintf(prTitleRule, "async", ""))
		if err != nil {
			t.Fatal(err)
		}
		j := &job{Event: prEvent(t, "Fix $(curl evil)", "retries"), Rule: "preview", Action: "build", Attempt: 1}
		if err := runJob(context.Background(), d, src, j, nil); err != nil {
			t.Fatalf("runJob = %v, want nil (acknowledged, not redelivered)", err)
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("Cloud Build got %d requests, want none", n)
		}
	})
	t.Run("an ordinary title and branch build", func(t *testing.T) {
		d, srv := cloudBuildDeps(t)
		tr := newTrigger(t, fmt.Sprintf(prTitleRule, "sync", ""), d)
		out, err := tr.Handle(context.Background(), prEvent(t, "v1.2_rc-3:fix/retries@main+x=y,z%", "feature/retries-2"))
		wantStatus(t, out, err, 200, ResultRan)
		reqs := srv.Requests()
		if len(reqs) != 1 || reqs[0].GetSource().GetSubstitutions()["_TITLE"] != "v1.2_rc-3:fix/retries@main+x=y,z%" ||
			reqs[0].GetSource().GetBranchName() != "feature/retries-2" || reqs[0].GetSource().GetSubstitutions()["_PR"] != "42" {
			t.Fatalf("requests %v", reqs)
		}
	})
	t.Run("raw_substitutions passes a key as written", func(t *testing.T) {
		d, srv := cloudBuildDeps(t)
		tr := newTrigger(t, fmt.Sprintf(prTitleRule, "sync", "raw_substitutions: [_TITLE]"), d)
		out, err := tr.Handle(context.Background(), prEvent(t, "Fix $(curl evil)", "retries"))
		wantStatus(t, out, err, 200, ResultRan)
		if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].GetSource().GetSubstitutions()["_TITLE"] != "Fix $(curl evil)" {
			t.Fatalf("requests %v", reqs)
		}
	})
}
