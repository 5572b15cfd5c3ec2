package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/idempotency"
)

func TestCompileRejectsBadRulesNamingTheField(t *testing.T) {
	const okAction = `{name: call, type: http, url: "http://localhost:9/x"}`
	tests := []struct {
		name  string
		rules string
		want  []string // substrings of the error
	}{
		{"unknown field names its path", `[{name: r, events: [push], actions: [` + okAction + `, {name: b, typ: http}]}]`,
			[]string{"rules[0].actions[1].typ: unknown field"}},
		{"CEL syntax error names the rule and position", `[{name: deploy, events: [push], condition: "payload.ref == ", actions: [` + okAction + `]}]`,
			[]string{"rules[0].condition", `rule "deploy"`, "1:"}},
		{"CEL type error", `[{name: deploy, events: [push], condition: "type == 1", actions: [` + okAction + `]}]`,
			[]string{"rules[0].condition", "no matching overload"}},
		{"non-boolean condition", `[{name: deploy, events: [push], condition: "type + 'x'", actions: [` + okAction + `]}]`,
			[]string{"rules[0].condition", "want bool"}},
		{"serialize_by must be a string", `[{name: r, events: [push], serialize_by: "1 + 2", actions: [` + okAction + `]}]`,
			[]string{"rules[0].serialize_by", "want string"}},
		{"serialize_by template parse error", `[{name: r, events: [push], serialize_by: "{{.payload", actions: [` + okAction + `]}]`,
			[]string{"rules[0].serialize_by"}},
		{"missing names", `[{events: [push], actions: [{type: http, url: "http://h/x"}]}]`,
			[]string{"rules[0].name: missing", "rules[0].actions[0].name: missing"}},
		{"duplicate rule and action names", `[{name: r, events: [push], actions: [` + okAction + `, ` + okAction + `]}, {name: r, events: [push], actions: [` + okAction + `]}]`,
			[]string{`rules[0].actions[1].name: duplicate action name "call"`, `rules[1].name: duplicate rule name "r"`}},
		{"no events", `[{name: r, actions: [` + okAction + `]}]`, []string{"rules[0].events: missing"}},
		{"bad mode", `[{name: r, events: [push], mode: later, actions: [` + okAction + `]}]`, []string{"rules[0].mode"}},
		{"unknown action type", `[{name: r, events: [push], actions: [{name: a, type: ftp}]}]`, []string{"rules[0].actions[0].type"}},
		{"field of another type", `[{name: r, events: [push], actions: [{name: a, type: cloudbuild, trigger: t, url: "http://h/x"}]}]`,
			[]string{"rules[0].actions[0].url: is a http field, not of a cloudbuild action"}},
		{"bad timeout and retry", `[{name: r, events: [push], actions: [{name: a, type: http, url: "http://h/x", timeout: soon, retry: {max_attempts: -1, initial_backoff: 2s, max_backoff: 1s}}]}]`,
			[]string{"actions[0].timeout", "retry.max_attempts", "retry.max_backoff"}},
		{"relative url", `[{name: r, events: [push], actions: [{name: a, type: http, url: "/hook"}]}]`, []string{"actions[0].url"}},
		{"bad template", `[{name: r, events: [push], actions: [{name: a, type: http, url: "http://h/x", body: "{{.payload"}]}]`, []string{"actions[0].body"}},
		{"url host from the event", `[{name: partner, events: [push], actions: [{name: a, type: http, url: "https://{{.payload.tenant}}.partner.example/hook"}]}]`,
			[]string{`rules[0].actions[0].url: rule "partner"`, "host", "literal"}},
		{"url port from the event", `[{name: r, events: [push], actions: [{name: a, type: http, url: "https://partner.example:{{.payload.port}}/hook"}]}]`,
			[]string{`rules[0].actions[0].url: rule "r"`, "port"}},
		{"url with a dot segment", `[{name: r, events: [push], actions: [{name: a, type: http, url: "https://partner.example/a/../admin"}]}]`,
			[]string{"rules[0].actions[0].url", `".."`}},
		{"templated Content-Type of a body", `[{name: r, events: [push], actions: [{name: a, type: http, url: "http://h/x", headers: {content-type: "{{.payload.ct}}"}, body: "{{.id}}"}]}]`,
			[]string{"rules[0].actions[0].headers.content-type: must be literal"}},
		{"interpolation after a backslash in a JSON body", `[{name: r, events: [push], actions: [{name: a, type: http, url: "http://h/x", body: '{"a":"\{{.id}}"}'}]}]`,
			[]string{"rules[0].actions[0].body", "backslash"}},
		{"allow_private_network on another type", `[{name: r, events: [push], actions: [{name: a, type: pubsub, topic: t, allow_private_network: true}]}]`,
			[]string{"rules[0].actions[0].allow_private_network: is a http field"}},
		{"bad topic", `[{name: r, events: [push], actions: [{name: a, type: pubsub, topic: "no spaces allowed"}]}]`, []string{"actions[0].topic"}},
		{"attempts outlast the claim lease", `[{name: r, events: [push], actions: [{name: a, type: http, url: "http://h/x", timeout: 2m, retry: {max_attempts: 3}}]}]`,
			[]string{"rules[0].actions[0].retry: all 3 attempts of 2m0s may take 6m20s, longer than a claim's lease (IDEMPOTENCY_LEASE=5m0s)"}},
		{"cloudbuild without trigger", `[{name: r, events: [push], actions: [{name: a, type: cloudbuild}]}]`, []string{"actions[0].trigger: missing"}},
		{"substitution key Cloud Build refuses", `[{name: r, events: [push], actions: [{name: a, type: cloudbuild, trigger: t, substitutions: {COMMIT: a, _lower: b}}]}]`,
			[]string{"actions[0].substitutions.COMMIT: a user-defined substitution", "actions[0].substitutions._lower:"}},
		{"raw_substitutions names a key that is not set", `[{name: r, events: [push], actions: [{name: a, type: cloudbuild, trigger: t, substitutions: {_A: x}, raw_substitutions: [_TITLE, _A, _A]}]}]`,
			[]string{`actions[0].raw_substitutions[0]: "_TITLE" is not a key of substitutions`, `actions[0].raw_substitutions[2]: "_A" is listed twice`}},
		{"raw_substitutions on another type", `[{name: r, events: [push], actions: [{name: a, type: http, url: "http://h/x", raw_substitutions: [_A]}]}]`,
			[]string{"actions[0].raw_substitutions: is a cloudbuild field"}},
		{"attribute keys Pub/Sub refuses", `[{name: r, events: [push], actions: [{name: a, type: pubsub, topic: tpc, attributes: {googx: a, ` + strings.Repeat("k", 257) + `: b}}]}]`,
			[]string{`actions[0].attributes.googx: keys starting "goog" are reserved`, "actions[0].attributes.kkk", "256 bytes"}},
		{"no rules", `[]`, []string{"rules: empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileYAML(t, tt.rules)
			if err == nil {
				t.Fatal("compiled; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// matchRules are the rules the GitHub matching table runs against.
const matchRules = `
- name: push-main
  events: [push]
  condition: payload.ref == "refs/heads/main"
  actions: [{name: a, type: http, url: "http://h/x"}]
- name: push-any-branch-of-octo-org
  events: [push]
  condition: payload.repository.owner.login == "octo-org" && payload.ref.startsWith("refs/heads/")
  actions: [{name: a, type: http, url: "http://h/x"}]
- name: pr-opened-against-main
  events: [pull_request]
  condition: payload.action == "opened" && payload.pull_request.base.ref == "main"
  actions: [{name: a, type: http, url: "http://h/x"}]
- name: pr-labelled-preview
  events: [pull_request]
  condition: payload.pull_request.labels.exists(l, l.name == "deploy-preview")
  actions: [{name: a, type: http, url: "http://h/x"}]
- name: stable-release
  events: [release]
  condition: payload.action == "published" && !payload.release.prerelease
  actions: [{name: a, type: http, url: "http://h/x"}]
- name: prerelease
  events: [release]
  condition: payload.release.prerelease
  actions: [{name: a, type: http, url: "http://h/x"}]
- name: optional-field
  events: ["*"]
  condition: payload.?head_commit.message.orValue("") == "Fix the retry loop"
  actions: [{name: a, type: http, url: "http://h/x"}]
- name: header
  events: [pull_*]
  condition: headers["X-GitHub-Event"] == "pull_request"
  actions: [{name: a, type: http, url: "http://h/x"}]
`

func TestRulesMatchRealGitHubPayloads(t *testing.T) {
	src, err := compileYAML(t, matchRules)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		typ     string
		payload func(map[string]any)
		want    []string
	}{
		{"push to main", "push", nil, []string{"push-main", "push-any-branch-of-octo-org", "optional-field"}},
		{"push to a feature branch", "push", func(p map[string]any) { p["ref"] = "refs/heads/feature" },
			[]string{"push-any-branch-of-octo-org", "optional-field"}},
		{"push of a tag", "push", func(p map[string]any) { p["ref"] = "refs/tags/v1" }, []string{"optional-field"}},
		{"pull request opened against main with label", "pull_request", nil,
			[]string{"pr-opened-against-main", "pr-labelled-preview", "header"}},
		{"pull request closed", "pull_request", func(p map[string]any) { p["action"] = "closed" },
			[]string{"pr-labelled-preview", "header"}},
		{"stable release", "release", nil, []string{"stable-release"}},
		{"prerelease", "release", func(p map[string]any) { p["release"].(map[string]any)["prerelease"] = true },
			[]string{"prerelease"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := githubEvent(t, tt.typ, "d1")
			if tt.payload != nil {
				var p map[string]any
				if err := json.Unmarshal(ev.Payload, &p); err != nil {
					t.Fatal(err)
				}
				tt.payload(p)
				ev.Payload, _ = json.Marshal(p)
			}
			vars, err := ev.Vars()
			if err != nil {
				t.Fatal(err)
			}
			rules, err := src.match(ev.Type, vars)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rules {
				got = append(got, r.name)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("matched %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConditionOnAMissingFieldIsUnprocessable(t *testing.T) {
	d, _ := testDeps(t)
	tr := newTrigger(t, `[{name: r, events: [release], condition: payload.release.missing == "x", actions: [{name: a, type: http, url: "http://h/x"}]}]`, d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "release", "d1"))
	wantStatus(t, out, err, 422, "")
	if !strings.Contains(err.Error(), `rule "r"`) {
		t.Errorf("error %q does not name the rule", err)
	}
}

func TestUnmatchedEventIsIgnored(t *testing.T) {
	d, _ := testDeps(t)
	tr := newTrigger(t, matchRules, d)
	out, err := tr.Handle(context.Background(), githubEvent(t, "release", "d1"))
	wantStatus(t, out, err, 202, resultQueued)
	ev := githubEvent(t, "release", "d2")
	ev.Type = "watch"
	ev.Payload = []byte(`{"action":"started"}`)
	out, err = tr.Handle(context.Background(), ev)
	wantStatus(t, out, err, 200, resultIgnored)
}

func TestTheConfigurationFilesTriggerSectionCompiles(t *testing.T) {
	f, err := config.Parse(config.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	fn := f.Function("trigger")
	if fn == nil || len(fn.Sources) == 0 {
		t.Fatal("webhooks.yaml has no trigger sources")
	}
	for _, s := range fn.Sources {
		if _, err := compileSource(s, idempotency.DefaultLease); err != nil {
			t.Errorf("source %s: %v", s.Name, err)
		}
	}
}

func FuzzCompileRules(f *testing.F) {
	f.Add([]byte(matchRules))
	f.Add([]byte(`[{name: r, events: [push], serialize_by: "{{.payload.x}}", actions: [{name: a, type: pubsub, topic: t12, attributes: {k: "{{.id}}"}}]}]`))
	f.Add([]byte(`[{name: r, events: [push], actions: [{name: a, type: cloudbuild, trigger: t, retry: {max_attempts: 2}}]}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		raw, err := yaml.YAMLToJSON(in)
		if err != nil {
			return
		}
		src, err := compileSource(config.Source{Name: "src", Rules: raw}, idempotency.DefaultLease)
		if err != nil {
			return
		}
		vars, _ := githubEvent(t, "push", "d").Vars()
		_, _ = src.match("push", vars)
	})
}

// BenchmarkMatch50Rules measures matching one push event against 50 rules
// whose events all include push, each with a CEL condition: the rule
// selection cost per event, after the payload is decoded once.
func BenchmarkMatch50Rules(b *testing.B) {
	var sb strings.Builder
	for i := range 50 {
		fmt.Fprintf(&sb, "- name: r%d\n  events: [push, pull_request]\n  condition: payload.ref == \"refs/heads/b%d\" && payload.repository.full_name == \"octo-org/octo-repo\"\n  actions: [{name: a, type: http, url: \"http://h/x\"}]\n", i, i)
	}
	src, err := compileYAML(b, sb.String())
	if err != nil {
		b.Fatal(err)
	}
	vars, err := githubEvent(b, "push", "d").Vars()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.match("push", vars); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAndMatch50Rules adds the once-per-event payload decoding
// (event.Vars) of the 2.5 kB sample push to BenchmarkMatch50Rules.
func BenchmarkDecodeAndMatch50Rules(b *testing.B) {
	var sb strings.Builder
	for i := range 50 {
		fmt.Fprintf(&sb, "- name: r%d\n  events: [push]\n  condition: payload.ref == \"refs/heads/b%d\"\n  actions: [{name: a, type: http, url: \"http://h/x\"}]\n", i, i)
	}
	src, err := compileYAML(b, sb.String())
	if err != nil {
		b.Fatal(err)
	}
	ev := githubEvent(b, "push", "d")
	b.ReportAllocs()
	for b.Loop() {
		vars, err := ev.Vars()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := src.match("push", vars); err != nil {
			b.Fatal(err)
		}
	}
}
