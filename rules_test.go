package webhooks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/functions/relay"
	"github.com/cloudhooks/webhooks/functions/trigger"
	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/pipeline"
)

// Relay's and Trigger's rules share one grammar (condition.Rule): name,
// events, condition. These tests run both functions' real start-up and
// rule matching on the same rule heads.

// ruleHead is written once and pasted into both functions' rules.
const ruleHead = `
        - name: big-payments
          events: [payment_intent.*, charge.refunded]
          condition: payload.amount > 100`

const bothFunctions = `relay:
  sources:
    - name: shop
      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}
      rules:` + ruleHead + `
          to: {topic: payments}
          data: {k: v}
trigger:
  sources:
    - name: shop
      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}
      rules:` + ruleHead + `
          mode: sync
          actions:
            - {name: publish, type: pubsub, topic: payments}
`

// localEnv makes both functions run locally: dry-run FCM, recorded Pub/Sub
// publishes, in-memory claims, all under a temporary data folder.
func localEnv(t *testing.T) {
	for _, k := range []string{"GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", config.EnvPath} {
		t.Setenv(k, "")
	}
	t.Setenv("WEBHOOKS_DATA_DIR", t.TempDir())
}

// TestRelayAndTriggerChooseTheSameEvents proves one rule head selects the
// same events in both functions: the same prefix and exact types, the
// same condition, the same refusals.
func TestRelayAndTriggerChooseTheSameEvents(t *testing.T) {
	localEnv(t)
	f, err := config.ParseFile("both.yaml", []byte(bothFunctions))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rp, err := relay.NewPattern(ctx, f.Relay.Sources[0])
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	tp, err := trigger.NewPattern(ctx, f.Trigger.Sources[0])
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	cases := []struct {
		name, typ string
		amount    int
		want      bool
	}{
		{"prefix and condition met", "payment_intent.succeeded", 500, true},
		{"prefix met, condition not", "payment_intent.succeeded", 50, false},
		{"the bare prefix", "payment_intent.", 500, true},
		{"exact type", "charge.refunded", 200, true},
		{"an exact type is not a prefix", "charge.refunded.partial", 200, false},
		{"another type", "customer.created", 500, false},
		{"no type", "", 500, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := &event.Event{Source: "shop", ID: fmt.Sprintf("evt_%d", i), Type: tc.typ, ReceivedAt: time.Now().UTC(),
				Payload: []byte(fmt.Sprintf(`{"amount":%d}`, tc.amount))}
			matched := func(p pattern.Pattern, acted string) bool {
				out, err := p.Handle(ctx, ev)
				if err != nil {
					t.Fatalf("Handle: %v", err)
				}
				return out.Result == acted
			}
			r, tr := matched(rp, relay.ResultSent), matched(tp, trigger.ResultRan)
			if r != tc.want || tr != tc.want {
				t.Errorf("%s with amount %d: relay matched %v, trigger %v; want both %v", tc.typ, tc.amount, r, tr, tc.want)
			}
		})
	}
}

// TestTheOldRuleSpellingStopsStartUpAtItsLine proves a rule written with
// Relay's former keys (types, when) stops either function's start-up with
// "did you mean" at the key's file, line and column, and that neither
// function accepts a rule without a name or without events.
func TestTheOldRuleSpellingStopsStartUpAtItsLine(t *testing.T) {
	localEnv(t)
	factories := map[string]pipeline.Factory{"relay": relay.NewPattern, "trigger": trigger.NewPattern}
	body := map[string]string{
		"relay":   "\n          to: {topic: payments}\n          data: {k: v}",
		"trigger": "\n          actions:\n            - {name: publish, type: pubsub, topic: payments}",
	}
	cases := []struct {
		name, head string
		want       []string // %s is the section
	}{
		{"types", "\n        - name: r\n          types: [push]", []string{
			`old.yaml:7:11: %s.sources[0].rules[0].types: unknown field; did you mean "events"? ("types" is the old spelling)`}},
		{"when", "\n        - name: r\n          events: [push]\n          when: payload.ref == \"main\"", []string{
			`old.yaml:8:11: %s.sources[0].rules[0].when: unknown field; did you mean "condition"? ("when" is the old spelling)`}},
		{"no events", "\n        - name: r", []string{
			`old.yaml:6:11: %s.sources[0].rules[0].events: missing`}},
		{"no name", "\n        - events: [\"*\"]", []string{
			`old.yaml:6:11: %s.sources[0].rules[0].name: missing`}},
	}
	for _, section := range []string{"relay", "trigger"} {
		for _, tc := range cases {
			t.Run(section+"/"+tc.name, func(t *testing.T) {
				yaml := section + ":\n  sources:\n    - name: shop\n      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}\n      rules:" + tc.head + body[section] + "\n"
				f, err := config.ParseFile("old.yaml", []byte(yaml))
				if err != nil {
					t.Fatal(err)
				}
				_, err = pipeline.New(context.Background(), f.Function(section), nil, factories[section], pipeline.Options{})
				if err == nil {
					t.Fatalf("started with\n%s", yaml)
				}
				for _, w := range tc.want {
					if w = fmt.Sprintf(w, section); !strings.Contains(err.Error(), w) {
						t.Errorf("error\n%v\nwant it to contain\n%s", err, w)
					}
				}
			})
		}
	}
}
