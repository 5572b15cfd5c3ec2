package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cloudhooks/webhooks/shared/condition"
	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/render"
)

// ruleSpec is one rule as written under a source's `rules:` in
// webhooks.yaml: its name, events and condition (condition.Rule, the
// grammar Trigger's rules share) and the message it sends. Every string
// of the message except the platform options is a template over the
// event's variables (see package render).
type ruleSpec struct {
	condition.Rule
	// To is where the message goes.
	To *targetSpec `json:"to"`
	// Notification is what the device shows.
	Notification *notificationSpec `json:"notification,omitempty"`
	// Data is the message's data payload: FCM data values are strings.
	Data map[string]string `json:"data,omitempty"`
	// Android, APNs and Webpush are the per-platform delivery options.
	Android *androidSpec `json:"android,omitempty"`
	APNs    *apnsSpec    `json:"apns,omitempty"`
	Webpush *webpushSpec `json:"webpush,omitempty"`
}

// targetSpec names exactly one FCM target.
type targetSpec struct {
	// Topic is a topic name, static ("payments") or templated.
	Topic string `json:"topic,omitempty"`
	// Condition is an FCM topic condition ("'a' in topics && 'b' in topics").
	// Each value interpolated into it must render to the topic name
	// alphabet (letters, digits and -_.~%), or the event is unprocessable:
	// a value cannot add quotes, operators or parentheses.
	Condition string `json:"condition,omitempty"`
	// Token is one registration token, typically from the payload.
	Token string `json:"token,omitempty"`
	// Tokens renders a list of registration tokens: a JSON array
	// (`{{json .payload.devices}}`) or tokens separated by spaces, commas or
	// new lines. They are sent with SendEachForMulticast, 500 per call.
	Tokens string `json:"tokens,omitempty"`
}

// notificationSpec is the notification every platform shows.
type notificationSpec struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
	// Image is an HTTPS URL of an image to show.
	Image string `json:"image,omitempty"`
}

// androidSpec are the Android delivery options.
type androidSpec struct {
	// Priority is "normal" or "high".
	Priority string `json:"priority,omitempty"`
	// TTL is how long FCM keeps an undelivered message (Go duration, "1h").
	TTL string `json:"ttl,omitempty"`
	// CollapseKey makes a newer message replace an undelivered older one.
	CollapseKey string `json:"collapse_key,omitempty"`
	// Sound is the sound to play ("default", or a resource name).
	Sound string `json:"sound,omitempty"`
	// ChannelID is the Android notification channel.
	ChannelID string `json:"channel_id,omitempty"`
}

// apnsSpec are the Apple (APNs) delivery options.
type apnsSpec struct {
	// Priority is "normal" (apns-priority 5) or "high" (10).
	Priority string `json:"priority,omitempty"`
	// TTL sets apns-expiration to now+TTL (Go duration; "0s": deliver now
	// or never).
	TTL string `json:"ttl,omitempty"`
	// CollapseKey is the apns-collapse-id.
	CollapseKey string `json:"collapse_key,omitempty"`
	// Sound is the aps sound ("default", or a sound file name).
	Sound string `json:"sound,omitempty"`
	// Badge sets the app icon's badge number.
	Badge *int `json:"badge,omitempty"`
}

// webpushSpec are the Web Push delivery options.
type webpushSpec struct {
	// Urgency is "very-low", "low", "normal" or "high".
	Urgency string `json:"urgency,omitempty"`
	// TTL is the Web Push TTL (Go duration, whole seconds).
	TTL string `json:"ttl,omitempty"`
	// CollapseKey is the Web Push Topic header: at most 32 characters of
	// the URL-safe base64 alphabet.
	CollapseKey string `json:"collapse_key,omitempty"`
	// Link is the HTTPS URL opened when the notification is clicked; a
	// template.
	Link string `json:"link,omitempty"`
}

// targetKind is the kind of a rule's target.
type targetKind int

const (
	toTopic targetKind = iota
	toCondition
	toToken
	toTokens
)

// rule is a compiled rule: everything parsed at start-up.
type rule struct {
	name    string
	matcher *condition.Matcher
	kind    targetKind
	target  *render.Template
	field   string // the target's field, "to.topic", for errors
	title   *render.Template
	body    *render.Template
	image   *render.Template
	data    []dataTemplate // sorted by key, for stable output
	android *androidSpec
	apns    *apnsSpec
	webpush *webpushSpec
	link    *render.Template

	androidTTL, apnsTTL, webpushTTL *time.Duration
}

// dataTemplate is one entry of a rule's data map.
type dataTemplate struct {
	key string
	t   *render.Template
}

// topicChars are the characters of an FCM topic name (firebase-admin-go's
// own check).
const topicChars = `a-zA-Z0-9-_.~%`

// topicName is what FCM accepts as a topic name, applied to static topics
// at start-up and rendered ones before claiming.
var topicName = regexp.MustCompile(`^(/topics/)?[` + topicChars + `]+$`)

// conditionValue checks each value interpolated into a condition: topic
// name characters only, so that a value cannot close the quoted name and
// add an operator ("a' in topics || 'all-users" would send to everyone).
var conditionValue = render.Alphabet("the FCM topic name alphabet", topicChars)

// webpushTopic is the alphabet and length of a Web Push Topic header.
var webpushTopic = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// compileRules decodes a source's raw rules strictly and compiles every
// template and condition. Every problem is reported, each naming its field
// ("rules[1].notification.titel: unknown field").
func compileRules(raw json.RawMessage) ([]*rule, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("rules: missing: a relay source needs at least one rule")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("rules: want a list of rules: %w", err)
	}
	if len(items) == 0 {
		return nil, errors.New("rules: empty: a relay source needs at least one rule")
	}
	var (
		rules []*rule
		errs  []error
	)
	for i, item := range items {
		path := fmt.Sprintf("rules[%d]", i)
		var spec ruleSpec
		if err := config.DecodeStrict(path, item, &spec); err != nil {
			errs = append(errs, err)
			continue
		}
		r, err := compileRule(path, &spec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev := slices.IndexFunc(rules, func(o *rule) bool { return o.name == r.name }); prev >= 0 {
			errs = append(errs, fmt.Errorf("%s.name: duplicate rule name %q: names key the rules' claims", path, r.name))
			continue
		}
		rules = append(rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rules, nil
}

// compileRule validates one decoded rule and compiles its templates.
func compileRule(path string, s *ruleSpec) (*rule, error) {
	r := &rule{name: s.Name, android: s.Android, apns: s.APNs, webpush: s.Webpush}
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	m, err := s.Rule.Compile(path)
	if err != nil {
		errs = append(errs, err)
	}
	r.matcher = m
	parse := func(field, text string) *render.Template {
		if text == "" {
			return nil
		}
		t, err := render.Parse(field, text)
		if err != nil {
			fail(field, "%v", err)
		}
		return t
	}

	switch to := s.To; {
	case to == nil:
		fail("to", "missing: set one of topic, condition, token, tokens")
	default:
		var set []string
		for _, f := range []struct {
			name, text string
			kind       targetKind
		}{
			{"topic", to.Topic, toTopic},
			{"condition", to.Condition, toCondition},
			{"token", to.Token, toToken},
			{"tokens", to.Tokens, toTokens},
		} {
			if f.text == "" {
				continue
			}
			set = append(set, f.name)
			r.kind, r.field = f.kind, "to."+f.name
			if f.kind == toCondition {
				t, err := render.ParseChecked("to.condition", f.text, conditionValue)
				if err != nil {
					fail("to.condition", "%v", err)
				}
				r.target = t
				continue
			}
			r.target = parse("to."+f.name, f.text)
		}
		if len(set) != 1 {
			fail("to", "set exactly one of topic, condition, token, tokens (got %d: %s)", len(set), strings.Join(set, ", "))
		}
		if to.Topic != "" && !strings.Contains(to.Topic, "{{") && !topicName.MatchString(to.Topic) {
			fail("to.topic", "%q is not an FCM topic name (letters, digits and -_.~%%)", to.Topic)
		}
	}

	if n := s.Notification; n != nil {
		r.title = parse("notification.title", n.Title)
		r.body = parse("notification.body", n.Body)
		r.image = parse("notification.image", n.Image)
		if n.Title == "" && n.Body == "" {
			fail("notification", "set a title or a body")
		}
	}
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if reservedDataKey(k) {
			fail("data."+k, "reserved by FCM (from, notification, message_type, google*, gcm*)")
			continue
		}
		if t := parse("data."+k, s.Data[k]); t != nil {
			r.data = append(r.data, dataTemplate{key: k, t: t})
		}
	}
	if s.Notification == nil && len(s.Data) == 0 {
		fail("notification", "missing: a rule sends a notification, data, or both")
	}

	ttl := func(field, v string) *time.Duration {
		if v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			fail(field, "%q is not a non-negative Go duration such as 1h", v)
			return nil
		}
		return &d
	}
	if a := s.Android; a != nil {
		if !slices.Contains([]string{"", "normal", "high"}, a.Priority) {
			fail("android.priority", "%q: want normal or high", a.Priority)
		}
		r.androidTTL = ttl("android.ttl", a.TTL)
	}
	if a := s.APNs; a != nil {
		if !slices.Contains([]string{"", "normal", "high"}, a.Priority) {
			fail("apns.priority", "%q: want normal or high", a.Priority)
		}
		r.apnsTTL = ttl("apns.ttl", a.TTL)
	}
	if w := s.Webpush; w != nil {
		if !slices.Contains([]string{"", "very-low", "low", "normal", "high"}, w.Urgency) {
			fail("webpush.urgency", "%q: want very-low, low, normal or high", w.Urgency)
		}
		r.webpushTTL = ttl("webpush.ttl", w.TTL)
		if w.CollapseKey != "" && !webpushTopic.MatchString(w.CollapseKey) {
			fail("webpush.collapse_key", "%q: want at most 32 of A-Z a-z 0-9 - _", w.CollapseKey)
		}
		r.link = parse("webpush.link", w.Link)
		if w.Link != "" && !strings.HasPrefix(w.Link, "https://") && !strings.HasPrefix(w.Link, "{{") {
			fail("webpush.link", "want an https:// URL")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// reservedDataKey reports the data keys FCM rejects.
func reservedDataKey(k string) bool {
	switch k {
	case "from", "notification", "message_type":
		return true
	}
	return strings.HasPrefix(k, "google") || strings.HasPrefix(k, "gcm")
}
