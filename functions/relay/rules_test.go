package relay

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
)

// TestCompileRulesRejects proves every configuration mistake is found at
// start-up and named by its field.
func TestCompileRulesRejects(t *testing.T) {
	const ok = `{name: r0, events: [a], to: {topic: t}, notification: {title: hi}}`
	cases := []struct {
		name  string
		rules string
		want  []string // substrings of the error
	}{
		{"missing rules", ``, []string{"rules: missing"}},
		{"empty rules", `[]`, []string{"rules: empty"}},
		{"rules not a list", `{name: r0, events: ["*"], to: {topic: t}}`, []string{"rules: want a list"}},
		{"duplicate rule names", `[{name: paid, events: ["*"], to: {topic: t}, data: {k: v}}, {name: paid, events: ["*"], to: {topic: u}, data: {k: v}}]`,
			[]string{`rules[1].name: duplicate rule name "paid"`}},
		{"a name with a slash", `[{name: a/b, events: ["*"], to: {topic: t}, data: {k: v}}]`, []string{`rules[0].name: "a/b": a rule name holds no "/"`}},
		{"unknown field named with its path", "- " + ok + "\n- {name: r1, events: [\"*\"], to: {topic: t}, notification: {titel: hi}}",
			[]string{"rules[1].notification.titel: unknown field"}},
		{"every unknown field reported", `[{name: r0, events: ["*"], to: {topic: t, topics: x}, notification: {title: a}, andriod: {}}]`,
			[]string{"rules[0].andriod: unknown field", "rules[0].to.topics: unknown field"}},
		{"unknown platform option", `[{name: r0, events: ["*"], to: {topic: t}, notification: {title: a}, android: {prio: high}}]`,
			[]string{"rules[0].android.prio: unknown field"}},
		{"wrong JSON type named", `[{name: r0, events: ["*"], to: {topic: t}, notification: {title: [a]}}]`,
			[]string{"rules[0].notification.title: want string"}},
		{"bad template", `[{name: r0, events: ["*"], to: {topic: t}, notification: {title: "{{.payload.x"}}]`,
			[]string{"rules[0].notification.title:", "unclosed action"}},
		{"bad data template", `[{name: r0, events: ["*"], to: {topic: t}, data: {k: "{{end}}"}}]`, []string{"rules[0].data.k:"}},
		{"bad CEL", `[{name: r0, events: ["*"], condition: "payload.amount >", to: {topic: t}, notification: {title: a}}]`,
			[]string{"rules[0].condition:", "Syntax error"}},
		{"non-boolean CEL", `[{name: r0, events: ["*"], condition: "1 + 2", to: {topic: t}, notification: {title: a}}]`,
			[]string{"rules[0].condition:", "want bool"}},
		{"no target", `[{name: r0, events: ["*"], notification: {title: a}}]`, []string{"rules[0].to: missing"}},
		{"two targets", `[{name: r0, events: ["*"], to: {topic: t, token: x}, notification: {title: a}}]`,
			[]string{"rules[0].to: set exactly one", "topic, token"}},
		{"malformed static topic", `[{name: r0, events: ["*"], to: {topic: "a b"}, notification: {title: a}}]`,
			[]string{"rules[0].to.topic:", "not an FCM topic name"}},
		{"nothing to send", `[{name: r0, events: ["*"], to: {topic: t}}]`, []string{"rules[0].notification: missing"}},
		{"notification without title or body", `[{name: r0, events: ["*"], to: {topic: t}, notification: {image: "https://x/i.png"}}]`,
			[]string{"rules[0].notification: set a title or a body"}},
		{"reserved data key", `[{name: r0, events: ["*"], to: {topic: t}, data: {from: x}}]`, []string{"rules[0].data.from: reserved"}},
		{"reserved google data key", `[{name: r0, events: ["*"], to: {topic: t}, data: {google.x: v}}]`, []string{"rules[0].data.google.x: reserved"}},
		{"bad android priority", `[{name: r0, events: ["*"], to: {topic: t}, data: {a: b}, android: {priority: urgent}}]`,
			[]string{"rules[0].android.priority:"}},
		{"bad ttl", `[{name: r0, events: ["*"], to: {topic: t}, data: {a: b}, android: {ttl: forever}}]`, []string{"rules[0].android.ttl:"}},
		{"negative apns ttl", `[{name: r0, events: ["*"], to: {topic: t}, data: {a: b}, apns: {ttl: -1h}}]`, []string{"rules[0].apns.ttl:"}},
		{"bad apns priority", `[{name: r0, events: ["*"], to: {topic: t}, data: {a: b}, apns: {priority: 10}}]`, []string{"rules[0].apns.priority: want string"}},
		{"bad webpush urgency", `[{name: r0, events: ["*"], to: {topic: t}, data: {a: b}, webpush: {urgency: now}}]`, []string{"rules[0].webpush.urgency:"}},
		{"bad webpush collapse key", `[{name: r0, events: ["*"], to: {topic: t}, data: {a: b}, webpush: {collapse_key: "a b"}}]`,
			[]string{"rules[0].webpush.collapse_key:"}},
		{"insecure webpush link", `[{name: r0, events: ["*"], to: {topic: t}, data: {a: b}, webpush: {link: "http://x"}}]`,
			[]string{"rules[0].webpush.link: want an https:// URL"}},
		{"empty type", `[{name: r0, events: [""], to: {topic: t}, data: {a: b}}]`, []string{"rules[0].events[0]: empty"}},
		{"errors of several rules all reported", `[{name: r0, events: ["*"], to: {topic: t}}, {name: r1, events: ["*"], to: {topic: t}, notification: {titel: a}}]`,
			[]string{"rules[0].notification: missing", "rules[1].notification.titel"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := rulesJSON(t, tc.rules)
			if tc.rules == "" {
				raw = nil
			}
			_, err := compileRules(raw)
			if err == nil {
				t.Fatal("compileRules accepted the rules")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestAStartUpErrorNamesTheSourceAndField proves a start-up error says
// which source's rules are wrong and which field: the pattern leaves its
// errors unwrapped, so that config.Function.Located places each one.
func TestAStartUpErrorNamesTheSourceAndField(t *testing.T) {
	fn := &config.Function{Sources: []config.Source{{Name: "shop", Rules: rulesJSON(t, `[{name: r0, events: ["*"], to: {topic: t}}]`)}}}
	_, err := NewPattern(context.Background(), fn.Sources[0])
	if err == nil {
		t.Fatal("NewPattern accepted a rule that sends nothing")
	}
	if got := fn.Located(0, err).Error(); !strings.Contains(got, `sources[0] ("shop"): rules[0].notification: missing`) {
		t.Fatalf("located error = %q, want it to name the source and the field", got)
	}
}

// TestSampleConfiguration proves the relay section of webhooks.yaml
// compiles, and that its Stripe and Logto rules render the sample events.
func TestSampleConfiguration(t *testing.T) {
	f, err := config.Parse(config.Embedded())
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	if f.Relay == nil {
		t.Fatal("webhooks.yaml has no relay section")
	}
	sources := map[string]*relay{}
	for _, src := range f.Relay.Sources {
		p, err := newPatternWith(src, nil)
		if err != nil {
			t.Fatalf("source %s: %v", src.Name, err)
		}
		sources[src.Name] = p
	}
	cases := []struct {
		source, typ, payload string
		wantTitles           []string
		wantBody             string
	}{
		{"stripe", "payment_intent.succeeded",
			`{"type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":2000,"currency":"usd"}}}`,
			[]string{"Payment received"}, "Payment of 2000 usd succeeded"},
		{"logto", "User.Created", `{"event":"User.Created","data":{"id":"u1","name":"Ada"}}`,
			[]string{"New user"}, "Ada just signed up"},
		{"logto", "User.Created", `{"event":"User.Created","data":{"id":"u1","name":null}}`,
			[]string{"New user"}, "Someone just signed up"},
		{"logto", "user.registered", `{"data":{"id":"u2","name":"Bo","fcm_tokens":["d1","d2"]}}`,
			[]string{"New user", "Welcome!"}, "Bo just signed up"},
		{"stripe", "charge.refunded", `{"data":{}}`, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.source+"/"+tc.typ, func(t *testing.T) {
			ev := newEvent(tc.typ, "evt_1", tc.payload)
			vars, err := ev.Vars()
			if err != nil {
				t.Fatal(err)
			}
			plan, err := sources[tc.source].plan(ev, vars, time.Now())
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			var titles []string
			for _, d := range plan {
				titles = append(titles, d.msg.Notification.Title)
			}
			if !slices.Equal(titles, tc.wantTitles) {
				t.Fatalf("titles = %q, want %q", titles, tc.wantTitles)
			}
			if len(plan) > 0 && plan[0].msg.Notification.Body != tc.wantBody {
				t.Errorf("body = %q, want %q", plan[0].msg.Notification.Body, tc.wantBody)
			}
		})
	}
}

func TestParseTokens(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
		err      bool
	}{
		{"json array", `["a","b"]`, []string{"a", "b"}, false},
		{"json null is no tokens", `null`, nil, false},
		{"whitespace and commas", "a, b\nc\td", []string{"a", "b", "c", "d"}, false},
		{"duplicates dropped in order", `["b","a","b"," a "]`, []string{"b", "a"}, false},
		{"empty", ``, nil, false},
		{"non-string element", `["a",1]`, nil, true},
		{"broken json", `["a"`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTokens(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("tokens = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzCompileRules proves no rules document makes start-up panic, and
// that what compiles plans any event without panicking.
func FuzzCompileRules(f *testing.F) {
	f.Add([]byte(`[{"name":"r0","events":["a"],"to":{"topic":"t"},"notification":{"title":"{{.payload.x}}"}}]`), []byte(`{"x":1}`))
	f.Add([]byte(`[{"name":"r0","events":["*"],"to":{"tokens":"{{json .payload.t}}"},"data":{"k":"v"},"android":{"ttl":"1h"}}]`), []byte(`{"t":["a"]}`))
	f.Add([]byte(`[{"name":"r0","events":["*"],"condition":"payload.a == 1","to":{"condition":"'a' in topics"},"data":{"k":"v"}}]`), []byte(`{"a":1}`))
	f.Add([]byte(`[{"name":"r0","events":["*"],"to":{"topic":"t"},"notification":{"titel":"x"}}]`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, rules, payload []byte) {
		rs, err := compileRules(rules)
		if err != nil {
			return
		}
		p := &relay{source: "src", rules: rs}
		ev := newEvent("a", "1", string(payload))
		vars, err := ev.Vars()
		if err != nil {
			return
		}
		_, _ = p.plan(ev, vars, time.Now())
	})
}
