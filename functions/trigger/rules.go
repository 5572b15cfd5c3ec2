package trigger

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cloudhooks/webhooks/shared/condition"
	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/render"
)

// ruleSpec is one rule as written under a source's `rules:` in
// webhooks.yaml: its name, events and condition (condition.Rule, the
// grammar Relay's rules share) and what it does.
type ruleSpec struct {
	condition.Rule
	// Mode is "async" (the default: queue one job per action and answer
	// 202) or "sync" (run the actions before answering).
	Mode string `json:"mode,omitempty"`
	// SerializeBy gives the key whose actions run one at a time, in order:
	// a template when it contains "{{", else a CEL expression yielding a
	// string.
	SerializeBy string `json:"serialize_by,omitempty"`
	// Actions run in order for each matching event.
	Actions []actionSpec `json:"actions"`
}

// actionSpec is one action of a rule. Which fields apply depends on Type;
// strings marked "template" are Go templates over the event (package
// render).
type actionSpec struct {
	// Name identifies the action within its rule; unique per rule.
	Name string `json:"name"`
	// Type is "http", "pubsub" or "cloudbuild".
	Type string `json:"type"`
	// Timeout bounds one attempt (Go duration; default 10s).
	Timeout string `json:"timeout,omitempty"`
	// Retry is the retry policy within one delivery.
	Retry *retrySpec `json:"retry,omitempty"`

	// URL (template; its scheme, host and port literal, values escaped),
	// Method (default POST), Headers (templates), Body (template; values
	// JSON-encoded unless Content-Type says the body is not JSON,
	// query-escaped when it says application/x-www-form-urlencoded; default:
	// the event envelope as JSON), Secret (a secret reference; the request
	// is then signed with Standard Webhooks) and AllowPrivateNetwork (send
	// to loopback, private and link-local addresses too, which are refused
	// otherwise) are the http action's.
	URL                 string            `json:"url,omitempty"`
	Method              string            `json:"method,omitempty"`
	Headers             map[string]string `json:"headers,omitempty"`
	Body                string            `json:"body,omitempty"`
	Secret              string            `json:"secret,omitempty"`
	AllowPrivateNetwork bool              `json:"allow_private_network,omitempty"`

	// Topic (short name or projects/P/topics/T), Attributes (templates) and
	// Message (template; default: the event envelope as JSON) are the
	// pubsub action's.
	Topic      string            `json:"topic,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Message    string            `json:"message,omitempty"`

	// Project (default: the deployment's), Trigger (id or name), Region
	// (default global), Substitutions (templates whose values must keep to
	// substitutionChars), RawSubstitutions (the keys of Substitutions whose
	// values are passed as they render: see compileCloudBuild) and Branch
	// (template, values as substitutions) are the cloudbuild action's.
	Project          string            `json:"project,omitempty"`
	Trigger          string            `json:"trigger,omitempty"`
	Region           string            `json:"region,omitempty"`
	Substitutions    map[string]string `json:"substitutions,omitempty"`
	RawSubstitutions []string          `json:"raw_substitutions,omitempty"`
	Branch           string            `json:"branch,omitempty"`
}

// retrySpec is an action's retry policy as written.
type retrySpec struct {
	MaxAttempts    int    `json:"max_attempts,omitempty"`
	InitialBackoff string `json:"initial_backoff,omitempty"`
	MaxBackoff     string `json:"max_backoff,omitempty"`
}

// Defaults of an action's settings.
const (
	defaultTimeout        = 10 * time.Second
	defaultMaxAttempts    = 3
	defaultInitialBackoff = 500 * time.Millisecond
	defaultMaxBackoff     = 10 * time.Second
)

// Action types.
const (
	typeHTTP       = "http"
	typePubSub     = "pubsub"
	typeCloudBuild = "cloudbuild"
)

// rule is a compiled rule.
type rule struct {
	name      string
	matcher   *condition.Matcher
	async     bool
	serialize *keyExpr
	actions   []*action
	byName    map[string]*action
}

// action is a compiled action.
type action struct {
	name    string
	kind    string
	timeout time.Duration
	retry   retryPolicy
	impl    performer
}

// compileRules decodes a source's raw rules strictly and compiles every
// condition, key expression and template. Every problem is reported, each
// naming its field ("rules[0].actions[1].typ: unknown field").
func compileRules(raw json.RawMessage, lease time.Duration) ([]*rule, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("rules: missing: a trigger source needs at least one rule")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("rules: want a list of rules: %w", err)
	}
	if len(items) == 0 {
		return nil, errors.New("rules: empty: a trigger source needs at least one rule")
	}
	var (
		rules []*rule
		errs  []error
		names = map[string]bool{}
	)
	for i, item := range items {
		path := fmt.Sprintf("rules[%d]", i)
		var spec ruleSpec
		if err := config.DecodeStrict(path, item, &spec); err != nil {
			errs = append(errs, err)
			continue
		}
		if names[spec.Name] && spec.Name != "" {
			errs = append(errs, fmt.Errorf("%s.name: duplicate rule name %q", path, spec.Name))
		}
		names[spec.Name] = true
		r, err := compileRule(path, &spec, lease)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rules, nil
}

// compileRule validates one decoded rule and compiles it.
func compileRule(path string, s *ruleSpec, lease time.Duration) (*rule, error) {
	r := &rule{name: s.Name, byName: map[string]*action{}}
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	m, err := s.Rule.Compile(path)
	if err != nil {
		errs = append(errs, err)
	}
	r.matcher = m
	switch s.Mode {
	case "", "async":
		r.async = true
	case "sync":
	default:
		fail("mode", "%q: want sync or async", s.Mode)
	}
	if s.SerializeBy != "" {
		k, err := compileKey(s.SerializeBy)
		if err != nil {
			fail("serialize_by", "rule %q: %v", s.Name, err)
		}
		r.serialize = k
	}
	if len(s.Actions) == 0 {
		fail("actions", "missing: a rule needs at least one action")
	}
	for i := range s.Actions {
		apath := fmt.Sprintf("%s.actions[%d]", path, i)
		a, err := compileAction(apath, s.Name, &s.Actions[i], lease)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.byName[a.name] != nil {
			errs = append(errs, fmt.Errorf("%s.name: duplicate action name %q in rule %q", apath, a.name, s.Name))
			continue
		}
		r.byName[a.name] = a
		r.actions = append(r.actions, a)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// compileAction validates one action of the named rule and compiles its
// templates.
func compileAction(path, rule string, s *actionSpec, lease time.Duration) (*action, error) {
	a := &action{name: s.Name, kind: s.Type, timeout: defaultTimeout}
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	switch {
	case s.Name == "":
		fail("name", "missing: jobs, claims and Idempotency-Key name the action")
	case strings.Contains(s.Name, "/"):
		fail("name", "%q: an action name holds no \"/\" (claims and outgoing ids join names with it)", s.Name)
	}
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil || d <= 0 {
			fail("timeout", "%q: want a positive Go duration such as 10s", s.Timeout)
		}
		a.timeout = d
	}
	rp, rerrs := compileRetry(path+".retry", s.Retry)
	errs = append(errs, rerrs...)
	a.retry = rp
	// The action's claim must outlive all its attempts, or a redelivery
	// takes the claim over while the action still runs and runs it twice.
	if longest := a.longest(); len(errs) == 0 && longest > lease {
		fail("retry", "all %d attempts of %s may take %s, longer than a claim's lease (%s=%s): lower timeout or max_attempts, or raise the lease",
			rp.maxAttempts, a.timeout, longest, idempotency.EnvLease, lease)
	}

	// Fields of the other types are mistakes (a cloudbuild action with a
	// url does not call it): name them.
	owned := map[string][]string{
		typeHTTP:       {"url", "method", "headers", "body", "secret", "allow_private_network"},
		typePubSub:     {"topic", "attributes", "message"},
		typeCloudBuild: {"project", "trigger", "region", "substitutions", "raw_substitutions", "branch"},
	}
	set := map[string]bool{
		"url": s.URL != "", "method": s.Method != "", "headers": len(s.Headers) > 0, "body": s.Body != "", "secret": s.Secret != "",
		"allow_private_network": s.AllowPrivateNetwork,
		"topic":                 s.Topic != "", "attributes": len(s.Attributes) > 0, "message": s.Message != "",
		"project": s.Project != "", "trigger": s.Trigger != "", "region": s.Region != "", "substitutions": len(s.Substitutions) > 0, "raw_substitutions": len(s.RawSubstitutions) > 0, "branch": s.Branch != "",
	}
	if _, ok := owned[s.Type]; !ok {
		fail("type", "%q: want http, pubsub or cloudbuild", s.Type)
	} else {
		for _, typ := range slices.Sorted(maps.Keys(owned)) {
			if typ == s.Type {
				continue
			}
			for _, f := range owned[typ] {
				if set[f] {
					fail(f, "is a %s field, not of a %s action", typ, s.Type)
				}
			}
		}
	}
	var (
		impl performer
		err  error
	)
	switch s.Type {
	case typeHTTP:
		impl, err = compileHTTP(path, rule, s)
	case typePubSub:
		impl, err = compilePubSub(path, s)
	case typeCloudBuild:
		impl, err = compileCloudBuild(path, s)
	}
	if err != nil {
		errs = append(errs, err)
	}
	a.impl = impl
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// longest is the most time the action's attempts and the waits between
// them can take.
func (a *action) longest() time.Duration {
	n := time.Duration(a.retry.maxAttempts)
	return n*a.timeout + (n-1)*a.retry.max
}

// compileRetry reads a retry policy, applying the defaults.
func compileRetry(path string, s *retrySpec) (retryPolicy, []error) {
	p := retryPolicy{maxAttempts: defaultMaxAttempts, initial: defaultInitialBackoff, max: defaultMaxBackoff}
	if s == nil {
		return p, nil
	}
	var errs []error
	if s.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("%s.max_attempts: %d: want 1 or more (0 for the default %d)", path, s.MaxAttempts, defaultMaxAttempts))
	} else if s.MaxAttempts > 0 {
		p.maxAttempts = s.MaxAttempts
	}
	dur := func(field, v string, into *time.Duration) {
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s.%s: %q: want a positive Go duration such as 1s", path, field, v))
			return
		}
		*into = d
	}
	dur("initial_backoff", s.InitialBackoff, &p.initial)
	dur("max_backoff", s.MaxBackoff, &p.max)
	if p.max < p.initial {
		errs = append(errs, fmt.Errorf("%s.max_backoff: %s is below initial_backoff %s", path, p.max, p.initial))
	}
	return p, errs
}

// parseTemplates parses a map of templates with parse (render.Parse when
// nil), naming each failure.
func parseTemplates(path string, m map[string]string, parse func(key, name, text string) (*render.Template, error)) ([]namedTemplate, []error) {
	if parse == nil {
		parse = func(_, name, text string) (*render.Template, error) { return render.Parse(name, text) }
	}
	var (
		out  []namedTemplate
		errs []error
	)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		t, err := parse(k, path+"."+k, m[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %w", path, k, err))
			continue
		}
		out = append(out, namedTemplate{key: k, t: t})
	}
	return out, errs
}

// namedTemplate is one entry of a templated map (headers, attributes,
// substitutions), kept sorted by key.
type namedTemplate struct {
	key string
	t   *render.Template
}

// renderMap fills a templated map for one event.
func renderMap(ts []namedTemplate, vars event.Vars) (map[string]string, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(ts))
	for _, nt := range ts {
		v, err := nt.t.Execute(vars)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nt.key, err)
		}
		out[nt.key] = v
	}
	return out, nil
}

// parseOptional parses a template that may be empty (nil then).
func parseOptional(name, text string) (*render.Template, error) {
	if text == "" {
		return nil, nil
	}
	return render.Parse(name, text)
}

// match reports whether the event meets the rule; an error means the
// condition could not be evaluated for this event.
func (r *rule) match(typ string, vars event.Vars) (bool, error) {
	return r.matcher.Match(typ, vars)
}
