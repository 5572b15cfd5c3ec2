package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"firebase.google.com/go/v4/messaging"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/render"
)

// delivery is one matched rule's message for one event, rendered and
// checked, ready to claim and send.
type delivery struct {
	rule *rule
	// msg carries the target, except for a token list: then its target is
	// empty and tokens holds the deduplicated tokens.
	msg    *messaging.Message
	tokens []string
}

// plan returns the deliveries of every rule that matches the event. It is
// all or nothing: when any matching rule cannot be evaluated or rendered
// the event is unprocessable and nothing is sent, so a half-configured
// event never buzzes some phones and not others.
//
// A rule that matches but renders an empty token list has nothing to send
// and yields no delivery.
func (p *relay) plan(ev *event.Event, vars event.Vars, now time.Time) ([]*delivery, error) {
	var (
		out  []*delivery
		errs []error
	)
	for _, r := range p.rules {
		ok, err := r.matcher.Match(ev.Type, vars)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		d, err := r.render(vars, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d.msg != nil {
			out = append(out, d)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// render fills the rule's templates for one event.
func (r *rule) render(vars event.Vars, now time.Time) (*delivery, error) {
	var errs []error
	exec := func(field string, t *render.Template) string {
		if t == nil {
			return ""
		}
		s, err := t.Execute(vars)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %q: %s: %w", r.name, field, err))
		}
		return s
	}
	m := &messaging.Message{}
	if r.title != nil || r.body != nil {
		m.Notification = &messaging.Notification{
			Title:    exec("notification.title", r.title),
			Body:     exec("notification.body", r.body),
			ImageURL: exec("notification.image", r.image),
		}
	}
	if len(r.data) > 0 {
		m.Data = make(map[string]string, len(r.data))
		for _, d := range r.data {
			m.Data[d.key] = exec("data."+d.key, d.t)
		}
	}
	m.Android = r.androidConfig()
	m.APNS = r.apnsConfig(now)
	m.Webpush = r.webpushConfig(exec("webpush.link", r.link))
	target := strings.TrimSpace(exec(r.field, r.target))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	d := &delivery{rule: r, msg: m}
	switch r.kind {
	case toTopic:
		if !topicName.MatchString(target) {
			return nil, fmt.Errorf("rule %q: to.topic: rendered %q, which is not an FCM topic name", r.name, target)
		}
		m.Topic = strings.TrimPrefix(target, "/topics/")
	case toCondition:
		if target == "" {
			return nil, fmt.Errorf("rule %q: to.condition: rendered empty", r.name)
		}
		m.Condition = target
	case toToken:
		if target == "" {
			return nil, fmt.Errorf("rule %q: to.token: rendered empty", r.name)
		}
		m.Token = target
	case toTokens:
		tokens, err := parseTokens(target)
		if err != nil {
			return nil, fmt.Errorf("rule %q: to.tokens: %w", r.name, err)
		}
		if len(tokens) == 0 {
			d.msg = nil
		}
		d.tokens = tokens
	}
	return d, nil
}

// parseTokens reads a rendered token list: a JSON array of strings, or
// tokens separated by white space or commas. Duplicates are dropped (a
// device listed twice must not buzz twice), order kept.
func parseTokens(s string) ([]string, error) {
	var raw []string
	if strings.HasPrefix(s, "[") || s == "null" {
		var items []any
		if err := json.Unmarshal([]byte(s), &items); err != nil {
			return nil, fmt.Errorf("rendered a list that is not a JSON array: %w", err)
		}
		for i, it := range items {
			tok, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("element %d is %T, want a string token", i, it)
			}
			raw = append(raw, strings.TrimSpace(tok))
		}
	} else {
		raw = strings.FieldsFunc(s, func(r rune) bool {
			return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r'
		})
	}
	seen := make(map[string]bool, len(raw))
	tokens := raw[:0]
	for _, t := range raw {
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		tokens = append(tokens, t)
	}
	return slices.Clip(tokens), nil
}

// androidConfig is the rule's Android options, nil when it has none.
func (r *rule) androidConfig() *messaging.AndroidConfig {
	a := r.android
	if a == nil {
		return nil
	}
	c := &messaging.AndroidConfig{Priority: a.Priority, TTL: r.androidTTL, CollapseKey: a.CollapseKey}
	if a.Sound != "" || a.ChannelID != "" {
		c.Notification = &messaging.AndroidNotification{Sound: a.Sound, ChannelID: a.ChannelID}
	}
	return c
}

// apnsConfig is the rule's APNs options, nil when it has none; the
// expiration is an absolute time, so it is computed per send.
func (r *rule) apnsConfig(now time.Time) *messaging.APNSConfig {
	a := r.apns
	if a == nil {
		return nil
	}
	c := &messaging.APNSConfig{Headers: map[string]string{}}
	switch a.Priority {
	case "high":
		c.Headers["apns-priority"] = "10"
	case "normal":
		c.Headers["apns-priority"] = "5"
	}
	if r.apnsTTL != nil {
		exp := "0" // deliver now or never
		if *r.apnsTTL > 0 {
			exp = strconv.FormatInt(now.Add(*r.apnsTTL).Unix(), 10)
		}
		c.Headers["apns-expiration"] = exp
	}
	if a.CollapseKey != "" {
		c.Headers["apns-collapse-id"] = a.CollapseKey
	}
	if a.Sound != "" || a.Badge != nil {
		c.Payload = &messaging.APNSPayload{Aps: &messaging.Aps{Sound: a.Sound, Badge: a.Badge}}
	}
	return c
}

// webpushConfig is the rule's Web Push options, nil when it has none.
func (r *rule) webpushConfig(link string) *messaging.WebpushConfig {
	w := r.webpush
	if w == nil {
		return nil
	}
	c := &messaging.WebpushConfig{Headers: map[string]string{}}
	if w.Urgency != "" {
		c.Headers["Urgency"] = w.Urgency
	}
	if r.webpushTTL != nil {
		c.Headers["TTL"] = strconv.FormatInt(int64(r.webpushTTL.Seconds()), 10)
	}
	if w.CollapseKey != "" {
		c.Headers["Topic"] = w.CollapseKey
	}
	if link != "" {
		c.FCMOptions = &messaging.WebpushFCMOptions{Link: link}
	}
	return c
}
