package condition

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cloudhooks/webhooks/shared/event"
)

// Rule is how every function's rules (Relay's and Trigger's) name
// themselves and choose their events, written the same in both:
//
//	rules:
//	  - name: payment-succeeded               # required, unique per source, no "/"
//	    events: [payment_intent.succeeded]     # required; "pay.*" a prefix, "*" every type
//	    condition: payload.amount >= 100       # CEL, optional
//
// A function's rule embeds it beside its own fields. The keys were once
// spelled types and when in Relay: the `was` tags let the configuration
// decoder answer those with "did you mean".
type Rule struct {
	// Name identifies the rule in logs, jobs and claim keys; unique within
	// the source, without "/" (claim keys join names with it).
	Name string `json:"name"`
	// Events are the event types the rule takes: a trailing "*" matches a
	// prefix ("payment_intent.*"), "*" alone every type. An empty list is
	// an error, not "every type": write "*" to mean it.
	Events []string `json:"events" was:"types"`
	// Condition is an optional CEL expression (see Compile) the event must
	// also meet.
	Condition string `json:"condition,omitempty" was:"when"`
}

// Matcher is a compiled Rule: it says whether an event is one the rule
// takes.
type Matcher struct {
	name     string
	exact    map[string]bool // event types matched exactly
	prefixes []string        // event type prefixes ("*" is the empty prefix)
	cond     *Condition
}

// Compile checks the rule and compiles its condition. Every problem is
// reported, each naming its field from path ("rules[2].events: missing").
func (r *Rule) Compile(path string) (*Matcher, error) {
	m := &Matcher{name: r.Name, exact: map[string]bool{}}
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	switch {
	case r.Name == "":
		fail("name", "missing: logs, jobs and claim keys name the rule")
	case strings.Contains(r.Name, "/"):
		fail("name", "%q: a rule name holds no \"/\" (claim keys join names with it)", r.Name)
	}
	if len(r.Events) == 0 {
		fail("events", "missing: list the event types (\"*\" for all)")
	}
	for i, e := range r.Events {
		switch {
		case e == "":
			fail(fmt.Sprintf("events[%d]", i), "empty event type")
		case strings.HasSuffix(e, "*"):
			m.prefixes = append(m.prefixes, strings.TrimSuffix(e, "*"))
		default:
			m.exact[e] = true
		}
	}
	if r.Condition != "" {
		c, err := Compile(r.Condition)
		if err != nil {
			fail("condition", "rule %q: %v", r.Name, err)
		}
		m.cond = c
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// Name returns the rule's name.
func (m *Matcher) Name() string { return m.name }

// MatchType reports whether the rule takes events of type typ.
func (m *Matcher) MatchType(typ string) bool {
	if m.exact[typ] {
		return true
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(typ, p) {
			return true
		}
	}
	return false
}

// Match reports whether the rule takes the event: its type is one of the
// rule's events and it meets the condition. An error means the condition
// could not be evaluated for this event (a missing payload field); it
// names the rule.
func (m *Matcher) Match(typ string, vars event.Vars) (bool, error) {
	if !m.MatchType(typ) {
		return false, nil
	}
	if m.cond == nil {
		return true, nil
	}
	ok, err := m.cond.Match(vars)
	if err != nil {
		return false, fmt.Errorf("rule %q: %w", m.name, err)
	}
	return ok, nil
}
