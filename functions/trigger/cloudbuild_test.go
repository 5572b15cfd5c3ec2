package trigger

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"testing"

	cloudbuild "cloud.google.com/go/cloudbuild/apiv1/v2"
	"google.golang.org/grpc/codes"

	"github.com/cloudhooks/webhooks/functions/trigger/cloudbuildtest"
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
