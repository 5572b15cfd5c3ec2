package relay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"

	"github.com/cloudhooks/webhooks/functions/relay/fcmtest"
	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/pattern"
)

// TestRouting proves each kind of target reaches FCM as the rule says, with
// the rendered notification, data and platform options.
func TestRouting(t *testing.T) {
	tokens := make([]string, 1200)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("device-%04d", i)
	}
	many, _ := json.Marshal(map[string]any{"tokens": tokens})
	cases := []struct {
		name           string
		rules, payload string
		wantSends      int64 // Send calls
		wantMulticasts int64 // SendEachForMulticast calls
		check          func(t *testing.T, got []fcmtest.Received)
	}{
		{
			name:      "static topic",
			rules:     `[{name: r0, events: ["*"], to: {topic: payments}, notification: {title: "Paid {{.payload.amount}}", body: "by {{.payload.who}}", image: "https://x/{{.id}}.png"}}]`,
			payload:   `{"amount":2000,"who":"Ada"}`,
			wantSends: 1,
			check: func(t *testing.T, got []fcmtest.Received) {
				n := got[0].Message.Notification
				if got[0].Message.Topic != "payments" || n.Title != "Paid 2000" || n.Body != "by Ada" || n.ImageURL != "https://x/evt_1.png" {
					t.Errorf("message = %+v, notification %+v", got[0].Message, n)
				}
			},
		},
		{
			name:      "templated topic",
			rules:     `[{name: r0, events: ["*"], to: {topic: "user-{{.payload.user}}"}, data: {k: v}}]`,
			payload:   `{"user":"42"}`,
			wantSends: 1,
			check: func(t *testing.T, got []fcmtest.Received) {
				if got[0].Message.Topic != "user-42" {
					t.Errorf("topic = %q", got[0].Message.Topic)
				}
			},
		},
		{
			name:      "condition",
			rules:     `[{name: r0, events: ["*"], to: {condition: "'{{.payload.a}}' in topics && 'b' in topics"}, data: {k: v}}]`,
			payload:   `{"a":"news"}`,
			wantSends: 1,
			check: func(t *testing.T, got []fcmtest.Received) {
				if got[0].Message.Condition != "'news' in topics && 'b' in topics" {
					t.Errorf("condition = %q", got[0].Message.Condition)
				}
			},
		},
		{
			name:      "one token with data and platform options",
			rules:     `[{name: r0, events: ["*"], to: {token: "{{.payload.device}}"}, data: {order: "{{.payload.order}}", source: "{{.source}}"}, android: {priority: high, ttl: 1h, collapse_key: c, sound: default, channel_id: orders}, apns: {priority: high, ttl: 0s, collapse_key: c, sound: ding.caf, badge: 3}, webpush: {urgency: high, ttl: 90s, collapse_key: c, link: "https://shop.example/o/{{.payload.order}}"}}]`,
			payload:   `{"device":"tok-1","order":"o-7"}`,
			wantSends: 1,
			check: func(t *testing.T, got []fcmtest.Received) {
				m := got[0].Message
				if m.Token != "tok-1" || m.Data["order"] != "o-7" || m.Data["source"] != "src" {
					t.Errorf("message = %+v", m)
				}
				if a := m.Android; a == nil || a.Priority != "high" || a.TTL == nil || *a.TTL != time.Hour || a.CollapseKey != "c" ||
					a.Notification == nil || a.Notification.Sound != "default" || a.Notification.ChannelID != "orders" {
					t.Errorf("android = %+v", m.Android)
				}
				if a := m.APNS; a == nil || a.Headers["apns-priority"] != "10" || a.Headers["apns-expiration"] != "0" ||
					a.Headers["apns-collapse-id"] != "c" || a.Payload.Aps.Sound != "ding.caf" || a.Payload.Aps.Badge == nil || *a.Payload.Aps.Badge != 3 {
					t.Errorf("apns = %+v", m.APNS)
				}
				if w := m.Webpush; w == nil || w.Headers["Urgency"] != "high" || w.Headers["TTL"] != "90" || w.Headers["Topic"] != "c" ||
					w.FCMOptions == nil || w.FCMOptions.Link != "https://shop.example/o/o-7" {
					t.Errorf("webpush = %+v", m.Webpush)
				}
			},
		},
		{
			name:           "1,200 tokens are three multicasts",
			rules:          `[{name: r0, events: ["*"], to: {tokens: "{{json .payload.tokens}}"}, notification: {title: hi}}]`,
			payload:        string(many),
			wantMulticasts: 3,
			check: func(t *testing.T, got []fcmtest.Received) {
				if len(got) != 1200 {
					t.Fatalf("FCM received %d messages, want 1200", len(got))
				}
				var recv []string
				for _, r := range got {
					recv = append(recv, r.Message.Token)
				}
				slices.Sort(recv)
				if !slices.Equal(recv, tokens) {
					t.Errorf("tokens received differ from the payload's")
				}
			},
		},
		{
			name:           "space separated tokens, duplicates once",
			rules:          `[{name: r0, events: ["*"], to: {tokens: "{{range .payload.devices}}{{.token}} {{end}}"}, data: {k: v}}]`,
			payload:        `{"devices":[{"token":"a"},{"token":"b"},{"token":"a"}]}`,
			wantMulticasts: 1,
			check: func(t *testing.T, got []fcmtest.Received) {
				if len(got) != 2 {
					t.Errorf("FCM received %d messages, want 2", len(got))
				}
			},
		},
		{
			name:    "empty token list sends nothing",
			rules:   `[{name: r0, events: ["*"], to: {tokens: "{{json .payload.tokens}}"}, data: {k: v}}]`,
			payload: `{"tokens":[]}`,
		},
		{
			name:      "every matching rule sends",
			rules:     `[{name: r0, events: [pay.*], to: {topic: a}, data: {k: v}}, {name: r1, events: [pay.ok], to: {topic: b}, data: {k: v}}, {name: r2, events: [other], to: {topic: c}, data: {k: v}}]`,
			payload:   `{}`,
			wantSends: 2,
			check: func(t *testing.T, got []fcmtest.Received) {
				var topics []string
				for _, r := range got {
					topics = append(topics, r.Message.Topic)
				}
				slices.Sort(topics)
				if !slices.Equal(topics, []string{"a", "b"}) {
					t.Errorf("topics = %q, want a and b", topics)
				}
			},
		},
		{
			name:    "condition false sends nothing",
			rules:   `[{name: r0, events: ["*"], condition: "payload.amount > 100", to: {topic: a}, data: {k: v}}]`,
			payload: `{"amount":5}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.rules, nil)
			out, err := h.relay.Handle(context.Background(), newEvent("pay.ok", "evt_1", tc.payload))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			want := ResultSent
			if tc.wantSends+tc.wantMulticasts == 0 {
				want = resultIgnored
			}
			if out.Result != want {
				t.Errorf("result = %q, want %q", out.Result, want)
			}
			if s, m := h.send.sends.Load(), h.send.multicasts.Load(); s != tc.wantSends || m != tc.wantMulticasts {
				t.Errorf("Send calls %d, SendEachForMulticast calls %d; want %d and %d", s, m, tc.wantSends, tc.wantMulticasts)
			}
			got := h.fcm.Sent()
			if tc.check != nil {
				if len(got) == 0 {
					t.Fatal("FCM received nothing")
				}
				tc.check(t, got)
			}
		})
	}
}

// TestUnprocessableSendsNothing proves an event a matching rule cannot
// render is answered 422 and that no rule sends for it, not even one that
// rendered.
func TestUnprocessableSendsNothing(t *testing.T) {
	cases := []struct {
		name, rules, payload, want string
	}{
		{"missing field in the title", `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}, {name: r1, events: ["*"], to: {topic: b}, notification: {title: "{{.payload.amount}}"}}]`,
			`{}`, `rule "r1": notification.title`},
		{"missing token field", `[{name: r0, events: ["*"], to: {token: "{{.payload.device}}"}, data: {k: v}}]`, `{}`, `rule "r0": to`},
		{"token renders empty", `[{name: r0, events: ["*"], to: {token: "{{.payload.device}}"}, data: {k: v}}]`, `{"device":""}`, `rule "r0": to.token: rendered empty`},
		{"topic renders invalid", `[{name: r0, events: ["*"], to: {topic: "{{.payload.t}}"}, data: {k: v}}]`, `{"t":"a b"}`, `not an FCM topic name`},
		{"tokens render no list", `[{name: r0, events: ["*"], to: {tokens: "{{json .payload.t}}"}, data: {k: v}}]`, `{"t":[1]}`, `want a string token`},
		{"condition fails on a missing field", `[{name: r0, events: ["*"], condition: "payload.amount > 1", to: {topic: a}, data: {k: v}}]`, `{}`, `rule "r0": condition`},
		{"payload not JSON", `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}]`, `not json`, `decode payload`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.rules, nil)
			_, err := h.relay.Handle(context.Background(), newEvent("x", "evt_1", tc.payload))
			if !errors.Is(err, pattern.ErrUnprocessable) {
				t.Fatalf("Handle error = %v, want unprocessable", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
			if n := h.fcm.Requests(); n != 0 {
				t.Errorf("FCM got %d requests, want none", n)
			}
		})
	}
}

// TestDuplicates proves a redelivered event sends nothing and answers
// "duplicate", and that an event id is claimed per source and rule.
func TestDuplicates(t *testing.T) {
	h := newHarness(t, `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}, {name: r1, events: ["*"], to: {topic: b}, data: {k: v}}]`, nil)
	ctx := context.Background()
	for i, want := range []string{ResultSent, resultDuplicate, resultDuplicate} {
		out, err := h.relay.Handle(ctx, newEvent("x", "evt_1", `{}`))
		if err != nil || out.Result != want {
			t.Fatalf("delivery %d: %+v, %v; want %q", i, out, err, want)
		}
	}
	if _, err := h.relay.Handle(ctx, newEvent("x", "evt_2", `{}`)); err != nil {
		t.Fatal(err)
	}
	if n := len(h.fcm.Sent()); n != 4 {
		t.Fatalf("FCM accepted %d messages, want 4 (two rules, two events)", n)
	}
}

// TestInFlightIsRetryable proves a delivery that finds another one sending
// answers 503 with inFlightRetryAfter and sends nothing.
func TestInFlightIsRetryable(t *testing.T) {
	store := idempotency.NewMemory(time.Minute)
	h := newHarness(t, `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}]`, store)
	ctx := context.Background()
	if st, _ := store.Claim(ctx, claimKey("src", "r0", "evt_1")); st != idempotency.Claimed {
		t.Fatal("could not pre-claim")
	}
	_, err := h.relay.Handle(ctx, newEvent("x", "evt_1", `{}`))
	var re *pattern.RetryableError
	if !errors.As(err, &re) || !errors.Is(err, errInFlight) || re.After != inFlightRetryAfter {
		t.Fatalf("Handle error = %v, want retryable in-flight after %v", err, inFlightRetryAfter)
	}
	if n := h.fcm.Requests(); n != 0 {
		t.Errorf("FCM got %d requests, want none", n)
	}
}

// TestFCMErrors proves how each FCM answer becomes the event's outcome, and
// that a retryable failure releases the claim so the retry sends once.
func TestFCMErrors(t *testing.T) {
	cases := []struct {
		name      string
		rules     string
		fail      *fcmtest.Failure
		wantErr   string // "retryable", "unprocessable" or "" (success)
		wantAfter time.Duration
		wantLog   string // a log substring, e.g. the token's hash
	}{
		{"unregistered token is logged and the event succeeds", `[{name: r0, events: ["*"], to: {token: secret-token}, data: {k: v}}]`,
			fcmtest.Unregistered, "", 0, tokenHash("secret-token")},
		{"invalid token is logged and the event succeeds", `[{name: r0, events: ["*"], to: {token: secret-token}, data: {k: v}}]`,
			fcmtest.InvalidArgument, "", 0, tokenHash("secret-token")},
		{"sender mismatch of a token is logged", `[{name: r0, events: ["*"], to: {token: secret-token}, data: {k: v}}]`,
			fcmtest.SenderMismatch, "", 0, tokenHash("secret-token")},
		{"invalid message to a topic is unprocessable", `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}]`,
			fcmtest.InvalidArgument, "unprocessable", 0, ""},
		{"unavailable with FCM's retry-after", `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}]`,
			fcmtest.Unavailable("600"), "retryable", 600 * time.Second, ""},
		{"quota exceeded with FCM's retry-after", `[{name: r0, events: ["*"], to: {token: secret-token}, data: {k: v}}]`,
			fcmtest.QuotaExceeded("7"), "retryable", 7 * time.Second, ""},
		{"internal without retry-after", `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}]`,
			fcmtest.Internal, "retryable", 0, ""},
		{"our credentials rejected is retryable and logged", `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}]`,
			fcmtest.ThirdPartyAuth, "retryable", 0, "credentials or configuration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.rules, nil)
			h.fcm.Fail(func(fcmtest.Received) *fcmtest.Failure { return tc.fail })
			ctx := context.Background()
			out, err := h.relay.Handle(ctx, newEvent("x", "evt_1", `{}`))
			switch tc.wantErr {
			case "":
				if err != nil || out.Result != ResultSent {
					t.Fatalf("Handle = %+v, %v; want sent", out, err)
				}
			case "unprocessable":
				if !errors.Is(err, pattern.ErrUnprocessable) {
					t.Fatalf("Handle error = %v, want unprocessable", err)
				}
			case "retryable":
				var re *pattern.RetryableError
				if !errors.As(err, &re) {
					t.Fatalf("Handle error = %v, want retryable", err)
				}
				if re.After != tc.wantAfter {
					t.Errorf("Retry-After = %v, want %v", re.After, tc.wantAfter)
				}
			}
			logs := h.logs.String()
			if tc.wantLog != "" && !strings.Contains(logs, tc.wantLog) {
				t.Errorf("logs lack %q:\n%s", tc.wantLog, logs)
			}
			if strings.Contains(logs, "secret-token") {
				t.Errorf("logs contain the token:\n%s", logs)
			}
			if tc.wantErr == "" {
				return
			}
			// The claim was released: FCM recovers, the retry sends once,
			// and a further retry is a duplicate.
			h.fcm.Fail(nil)
			if out, err := h.relay.Handle(ctx, newEvent("x", "evt_1", `{}`)); err != nil || out.Result != ResultSent {
				t.Fatalf("retry = %+v, %v; want sent", out, err)
			}
			if out, err := h.relay.Handle(ctx, newEvent("x", "evt_1", `{}`)); err != nil || out.Result != resultDuplicate {
				t.Fatalf("second retry = %+v, %v; want duplicate", out, err)
			}
			if n := len(h.fcm.Sent()); n != 1 {
				t.Errorf("FCM accepted %d messages, want 1", n)
			}
		})
	}
}

// TestMulticastFailures proves per-token failures of a multicast are
// logged per token by hash without failing the event, and that a list
// where every token failed retryably is retried.
func TestMulticastFailures(t *testing.T) {
	const rules = `[{name: r0, events: ["*"], to: {tokens: "{{json .payload.tokens}}"}, data: {k: v}}]`
	payload := `{"tokens":["tok-ok","tok-gone","tok-bad","tok-busy"]}`
	t.Run("partial failure is logged per token", func(t *testing.T) {
		h := newHarness(t, rules, nil)
		h.fcm.Fail(func(r fcmtest.Received) *fcmtest.Failure {
			switch r.Message.Token {
			case "tok-gone":
				return fcmtest.Unregistered
			case "tok-bad":
				return fcmtest.InvalidArgument
			case "tok-busy":
				return fcmtest.Internal
			}
			return nil
		})
		out, err := h.relay.Handle(context.Background(), newEvent("x", "evt_1", payload))
		if err != nil || out.Result != ResultSent {
			t.Fatalf("Handle = %+v, %v; want sent", out, err)
		}
		logs := h.logs.String()
		for _, tok := range []string{"tok-gone", "tok-bad", "tok-busy"} {
			if !strings.Contains(logs, tokenHash(tok)) {
				t.Errorf("logs lack the hash of %s", tok)
			}
			if strings.Contains(logs, tok) {
				t.Errorf("logs contain the token %s", tok)
			}
		}
		if strings.Contains(logs, tokenHash("tok-ok")) {
			t.Errorf("logs mention the token that succeeded")
		}
		if !strings.Contains(logs, `"sent":1`) || !strings.Contains(logs, `"rejected":2`) || !strings.Contains(logs, `"failed":1`) {
			t.Errorf("summary line missing or wrong:\n%s", logs)
		}
	})
	t.Run("every token failing retryably is retried", func(t *testing.T) {
		h := newHarness(t, rules, nil)
		h.fcm.Fail(func(fcmtest.Received) *fcmtest.Failure { return fcmtest.QuotaExceeded("30") })
		_, err := h.relay.Handle(context.Background(), newEvent("x", "evt_1", payload))
		var re *pattern.RetryableError
		if !errors.As(err, &re) || re.After != 30*time.Second {
			t.Fatalf("Handle error = %v, want retryable after 30s", err)
		}
		h.fcm.Fail(nil)
		if out, err := h.relay.Handle(context.Background(), newEvent("x", "evt_1", payload)); err != nil || out.Result != ResultSent {
			t.Fatalf("retry = %+v, %v", out, err)
		}
		if n := len(h.fcm.Sent()); n != 4 {
			t.Errorf("FCM accepted %d messages, want each of 4 tokens once", n)
		}
	})
}

// TestSendTimeoutIsRetryable proves a send that outlives the send timeout
// answers 503 and releases the claim.
func TestSendTimeoutIsRetryable(t *testing.T) {
	h := newHarness(t, `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}]`, nil)
	d, _ := h.relay.deps(context.Background())
	d.sendTimeout = time.Millisecond
	h.fcm.SetLatency(time.Second)
	_, err := h.relay.Handle(context.Background(), newEvent("x", "evt_1", `{}`))
	var re *pattern.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("Handle error = %v, want retryable", err)
	}
	st, err := h.claims.Claim(context.Background(), claimKey("src", "r0", "evt_1"))
	if err != nil || st != idempotency.Claimed {
		t.Fatalf("claim after the timeout = %v, %v; want it released", st, err)
	}
}

// TestDryRun proves that without FCM the messages are recorded as NDJSON
// in FCM's own JSON and logged, the tokens only by hash, and that claims
// still make a redelivery a duplicate.
func TestDryRun(t *testing.T) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	s, err := settingsFromEnv(func(k string) (string, bool) {
		v, ok := map[string]string{envDataDir: dir}[k]
		return v, ok
	})
	if err != nil || !s.DryRun {
		t.Fatalf("settings = %+v, %v; want a dry run without a project", s, err)
	}
	d, err := newDeps(context.Background(), s, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPatternWith(config.Source{Name: "src", Rules: rulesJSON(t, `
- name: topic-rule
  events: ["*"]
  to: {topic: payments}
  notification: {title: "Paid {{.payload.amount}}"}
  android: {ttl: 1h}
- name: device-rule
  events: ["*"]
  to: {tokens: "{{json .payload.devices}}"}
  data: {k: v}
`)}, d)
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvent("x", "evt_9", `{"amount":5,"devices":["dev-secret-1","dev-secret-2"]}`)
	for _, want := range []string{ResultSent, resultDuplicate} {
		out, err := p.Handle(context.Background(), ev)
		if err != nil || out.Result != want {
			t.Fatalf("Handle = %+v, %v; want %s", out, err, want)
		}
	}
	f, err := os.Open(filepath.Join(dir, "relay", "messages.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]json.RawMessage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 2 {
		t.Fatalf("recorded %d lines, want 2 (one per rule, the duplicate not recorded)", len(lines))
	}
	var m messaging.Message
	if err := json.Unmarshal(lines[0]["message"], &m); err != nil {
		t.Fatal(err)
	}
	if m.Topic != "payments" || m.Notification.Title != "Paid 5" || m.Android.TTL == nil || *m.Android.TTL != time.Hour {
		t.Errorf("recorded message = %s", lines[0]["message"])
	}
	if string(lines[0]["event_id"]) != `"evt_9"` || string(lines[0]["rule"]) != `"topic-rule"` {
		t.Errorf("recorded line lacks its event and rule: %v", lines[0])
	}
	if string(lines[1]["tokens"]) != `["dev-secret-1","dev-secret-2"]` {
		t.Errorf("recorded tokens = %s", lines[1]["tokens"])
	}
	out := logs.String()
	if !strings.Contains(out, "would send") || !strings.Contains(out, "Paid 5") {
		t.Errorf("dry run not logged:\n%s", out)
	}
	if strings.Contains(out, "dev-secret") {
		t.Errorf("logs contain a token:\n%s", out)
	}
}

func TestSettings(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	cases := []struct {
		name    string
		env     map[string]string
		dryRun  bool
		wantErr string
	}{
		{"no project is a dry run", nil, true, ""},
		{"a project sends", map[string]string{EnvProject: "p"}, false, ""},
		{"FIREBASE_PROJECT alone sends too", map[string]string{EnvFirebaseProject: "fb"}, false, ""},
		{"RELAY_DRY_RUN=1 overrides the project", map[string]string{EnvProject: "p", envDryRun: "1"}, true, ""},
		{"bad dry run value is named", map[string]string{envDryRun: "yes"}, false, envDryRun},
		{"bad send timeout is named", map[string]string{envSendTimeout: "0s"}, false, envSendTimeout},
		{"a send timeout at or above the claim lease is refused", map[string]string{envSendTimeout: "2m", "IDEMPOTENCY_LEASE": "90s"}, false, "must stay below the claim lease IDEMPOTENCY_LEASE=1m30s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := settingsFromEnv(env(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || s.DryRun != tc.dryRun {
				t.Fatalf("settings = %+v, %v; want dry run %v", s, err, tc.dryRun)
			}
		})
	}
}

// A team whose topics and tokens live in an existing Firebase project
// sent to the deployment's project instead, with no setting and no
// warning.
func TestFirebaseProjectIsWhereMessagesGo(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{EnvProject: "deploy"}, "deploy"},
		{map[string]string{EnvProject: "deploy", EnvFirebaseProject: "team-firebase"}, "team-firebase"},
	} {
		s, err := settingsFromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if err != nil || s.Project != tc.want {
			t.Errorf("%v: project %q (%v), want %q", tc.env, s.Project, err, tc.want)
		}
	}
}

// TestNewPatternDryRun runs the entry point as the local server does: no
// project, so the first event builds the process's dry-run clients and is
// recorded under WEBHOOKS_DATA_DIR.
func TestNewPatternDryRun(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvProject, "")
	t.Setenv(envDataDir, dir)
	resetProcess := func() {
		process.mu.Lock()
		process.d = nil
		process.mu.Unlock()
		processSettings = sync.OnceValues(func() (settings, error) { return settingsFromEnv(lookupEnv) })
	}
	resetProcess()
	t.Cleanup(resetProcess)
	p, err := NewPattern(context.Background(), config.Source{Name: "src", Rules: rulesJSON(t, `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}]`)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Handle(context.Background(), newEvent("x", "evt_1", `{}`))
	if err != nil || out.Result != ResultSent {
		t.Fatalf("Handle = %+v, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "relay", "messages.ndjson")); err != nil {
		t.Fatalf("no dry-run record: %v", err)
	}
}

// TestMissingCredentials proves a project without Google credentials is a
// dry run on a developer's machine and an error on Cloud Run.
func TestMissingCredentials(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	s := settings{Project: "p", DataDir: t.TempDir(), SendTimeout: time.Second}
	log := slog.New(slog.NewJSONHandler(&syncBuffer{}, nil))
	d, err := newDeps(context.Background(), s, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.send.(*recorder); !ok {
		t.Skipf("this machine has Google credentials (%T): cannot test their absence", d.send)
	}
	if _, ok := d.claims.(*idempotency.Memory); !ok {
		t.Errorf("dry-run claims = %T, want in memory", d.claims)
	}
	s.OnCloudRun = true
	if _, err := newDeps(context.Background(), s, log); err == nil {
		t.Fatal("on Cloud Run, missing credentials were not an error")
	}
}

// Claims are keyed by rule name: when a deploy reorders named rules
// between a delivery and its retry, the rule that succeeded stays done and
// the one that failed still sends. (Keyed by position, the retry would
// send the first twice and lose the second.)
func TestReorderedNamedRulesKeepTheirClaims(t *testing.T) {
	store := idempotency.NewMemory(time.Minute)
	ctx := context.Background()
	first := newHarness(t, `[{name: a, events: ["*"], to: {topic: a}, data: {k: v}}, {name: b, events: ["*"], to: {topic: b}, data: {k: v}}]`, store)
	first.fcm.Fail(func(r fcmtest.Received) *fcmtest.Failure {
		if r.Message.Topic == "b" {
			return fcmtest.Unavailable("600") // beyond the SDK's wait: no retry
		}
		return nil
	})
	if _, err := first.relay.Handle(ctx, newEvent("x", "evt_1", `{}`)); err == nil {
		t.Fatal("first delivery succeeded although rule b's send failed")
	}
	reordered := newHarness(t, `[{name: b, events: ["*"], to: {topic: b}, data: {k: v}}, {name: a, events: ["*"], to: {topic: a}, data: {k: v}}]`, store)
	if out, err := reordered.relay.Handle(ctx, newEvent("x", "evt_1", `{}`)); err != nil || out.Result != ResultSent {
		t.Fatalf("retry after the reorder: %+v, %v", out, err)
	}
	var topics []string
	for _, r := range reordered.fcm.Sent() {
		topics = append(topics, r.Message.Topic)
	}
	if len(topics) != 1 || topics[0] != "b" {
		t.Errorf("the retry sent to topics %v, want only b", topics)
	}
}

// TestAConditionValueCannotWidenTheAudience performs the FCM condition
// injection: a team name that closes the quote and ors in another topic
// ("a' in topics || 'all-users") must not send to every user. Each value
// interpolated into a condition renders to the topic alphabet, or the event
// is unprocessable (422, or the dead-letter topic for a queued job) and
// nothing is sent; a team of that alphabet still sends.
func TestAConditionValueCannotWidenTheAudience(t *testing.T) {
	const rules = `[{name: r0, events: ["*"], to: {condition: "'team-{{.payload.team}}' in topics"}, notification: {title: "Deploy done"}}]`
	for _, team := range []string{
		`a' in topics || 'all-users`,
		`a'`,
		`a in topics`,
		`a(`,
		"a\n",
	} {
		t.Run(team, func(t *testing.T) {
			h := newHarness(t, rules, nil)
			payload, _ := json.Marshal(map[string]string{"team": team})
			_, err := h.relay.Handle(context.Background(), newEvent("x", "evt_1", string(payload)))
			if !errors.Is(err, pattern.ErrUnprocessable) {
				t.Fatalf("Handle error = %v, want unprocessable", err)
			}
			if !strings.Contains(err.Error(), `rule "r0": to.condition`) {
				t.Errorf("error %q does not name the field", err)
			}
			if sent := h.fcm.Sent(); len(sent) != 0 {
				t.Errorf("FCM sent to %q, want nothing", sent[0].Message.Condition)
			}
		})
	}
	t.Run("a team of the topic alphabet", func(t *testing.T) {
		h := newHarness(t, rules, nil)
		if _, err := h.relay.Handle(context.Background(), newEvent("x", "evt_1", `{"team":"Ops-1_a.b~c%20"}`)); err != nil {
			t.Fatal(err)
		}
		if sent := h.fcm.Sent(); len(sent) != 1 || sent[0].Message.Condition != "'team-Ops-1_a.b~c%20' in topics" {
			t.Fatalf("sent %+v", sent)
		}
	})
}

// TestTheEnvironmentIsReadOnce proves every source and the process's
// clients share one reading of the environment: each variable, the claim
// store's included, is looked up once however many sources start.
func TestTheEnvironmentIsReadOnce(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	reads := map[string]int{}
	lookupEnv = func(k string) (string, bool) {
		mu.Lock()
		reads[k]++
		mu.Unlock()
		v, ok := map[string]string{envDataDir: dir}[k]
		return v, ok
	}
	reset := func() {
		process.mu.Lock()
		process.d = nil
		process.mu.Unlock()
		processSettings = sync.OnceValues(func() (settings, error) { return settingsFromEnv(lookupEnv) })
	}
	reset()
	t.Cleanup(func() { lookupEnv = os.LookupEnv; reset() })
	for _, name := range []string{"a", "b", "c"} {
		p, err := NewPattern(context.Background(), config.Source{Name: name, Rules: rulesJSON(t, `[{name: r0, events: ["*"], to: {topic: a}, data: {k: v}}]`)})
		if err != nil {
			t.Fatal(err)
		}
		if out, err := p.Handle(context.Background(), newEvent("x", "evt_"+name, `{}`)); err != nil || out.Result != ResultSent {
			t.Fatalf("Handle = %+v, %v", out, err)
		}
	}
	for _, k := range []string{envSendTimeout, envDataDir, idempotency.EnvLease, idempotency.EnvCollection, "K_SERVICE"} {
		if reads[k] != 1 {
			t.Errorf("%s read %d times, want once per process", k, reads[k])
		}
	}
}

func TestKServiceMeansCloudRun(t *testing.T) {
	s, err := settingsFromEnv(func(k string) (string, bool) { return "", k == "K_SERVICE" })
	if err != nil || !s.OnCloudRun {
		t.Fatalf("settings = %+v, %v; want OnCloudRun with K_SERVICE set", s, err)
	}
}
