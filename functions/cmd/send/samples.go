package main

import (
	"bytes"
	"embed"
	"fmt"
	"strings"

	"github.com/cloudhooks/webhooks/shared/suggest"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// samples holds example payloads of the providers' common event types,
// shaped like the examples in each provider's webhook documentation. A
// sample may hold {{id}} where the provider puts something unique to the
// event; send fills in the event id, so that each send is a new event
// (Stripe's "id", Slack's "event_id", or, for providers that send no id,
// the bytes whose SHA-256 becomes the id).
//
//go:embed samples
var samples embed.FS

// sample is one example payload of one event type.
type sample struct {
	typ  string // the event type, as the provider names it
	file string // under samples/PROVIDER/
}

// catalogue lists the samples of each provider; the first is the default.
var catalogue = map[string][]sample{
	"github": {{"push", "push.json"}, {"pull_request", "pull_request.json"}, {"issues", "issues.json"},
		{"release", "release.json"}, {"ping", "ping.json"}},
	"gitlab": {{"Push Hook", "push.json"}, {"Merge Request Hook", "merge_request.json"}},
	"stripe": {{"payment_intent.succeeded", "payment_intent.succeeded.json"},
		{"payment_intent.created", "payment_intent.created.json"},
		{"payment_intent.payment_failed", "payment_intent.payment_failed.json"},
		{"payment_intent.canceled", "payment_intent.canceled.json"},
		{"charge.refunded", "charge.refunded.json"},
		{"customer.subscription.created", "customer.subscription.created.json"},
		{"customer.subscription.updated", "customer.subscription.updated.json"},
		{"customer.subscription.deleted", "customer.subscription.deleted.json"}},
	"slack":    {{"event_callback", "event_callback.json"}},
	"shopify":  {{"orders/create", "orders_create.json"}, {"orders/paid", "orders_paid.json"}, {"customers/create", "customers_create.json"}},
	"standard": {{"user.registered", "user.registered.json"}, {"invoice.paid", "invoice.paid.json"}, {"push.main", "push.main.json"}},
	"logto":    {{"User.Created", "User.Created.json"}, {"PostRegister", "PostRegister.json"}},
	"zoom":     {{"meeting.started", "meeting.started.json"}, {"recording.completed", "recording.completed.json"}},
	"x":        {{"tweet_create_events", "tweet_create_events.json"}, {"follow_events", "follow_events.json"}},
	"twilio":   {{"message.received", "message.received.form"}, {"message.status", "message.status.form"}},
}

// provider returns the catalogue entry of a scheme: its provider's
// samples, or the generic Standard Webhooks-shaped ones for schemes that
// belong to no provider (hmac, token, basic, none, oidc).
func provider(scheme string) string {
	switch scheme {
	case verify.SchemeGitHub, verify.SchemeGitLab, verify.SchemeStripe, verify.SchemeSlack, verify.SchemeShopify,
		verify.SchemeLogto, verify.SchemeZoom, verify.SchemeTwilio:
		return scheme
	case verify.SchemeTwitter:
		return "x"
	}
	return "standard"
}

// findSample returns the sample of typ for scheme's provider (its default
// when typ is empty), or an error listing the types there are.
func findSample(scheme, typ string) (sample, []byte, error) {
	p := provider(scheme)
	list := catalogue[p]
	for _, s := range list {
		if typ == "" || s.typ == typ {
			b, err := samples.ReadFile("samples/" + p + "/" + s.file)
			return s, b, err
		}
	}
	types := make([]string, len(list))
	for i, s := range list {
		types[i] = s.typ
	}
	meant := ""
	if m := suggest.Closest(typ, types); m != "" {
		meant = fmt.Sprintf(", did you mean %q?", m)
	}
	return sample{}, nil, fmt.Errorf("-type %q: no %s sample of that type%s (there are: %s); send your own with -payload FILE -type %q",
		typ, p, meant, strings.Join(types, ", "), typ)
}

// contentType is the media type a sample is sent with: Twilio posts
// forms, everyone else JSON.
func (s sample) contentType() string {
	if strings.HasSuffix(s.file, ".form") {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// render fills the event id into a sample's text.
func render(text []byte, id string) []byte {
	return bytes.ReplaceAll(text, []byte("{{id}}"), []byte(id))
}
