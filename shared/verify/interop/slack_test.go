package interop_test

// slack-go (github.com/slack-go/slack): SecretsVerifier verifies v0
// signatures, HMAC-SHA256 over "v0:timestamp:body". It has no signer.

import (
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/cloudhooks/webhooks/shared/verify"
)

const (
	slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	slackOther  = "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a"
)

// slackEnsure is slack-go's check of body under secret, as its docs
// show: headers in, body written, Ensure.
func slackEnsure(t *testing.T, h map[string][]string, secret string, body []byte) error {
	t.Helper()
	sv, err := slack.NewSecretsVerifier(h, secret)
	if err != nil {
		return err
	}
	if _, err := sv.Write(body); err != nil {
		t.Fatal(err)
	}
	return sv.Ensure()
}

func TestSlackGoAcceptsOurSignature(t *testing.T) {
	for _, tt := range []struct{ name, contentType, body string }{
		{"Events API JSON", "application/json", `{"token":"x","team_id":"T1","type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}`},
		{"slash command form", "application/x-www-form-urlencoded", "token=x&team_id=T1&command=%2Fweather&text=94070&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			r := ourSigned(t, verify.Config{Scheme: verify.SchemeSlack}, slackSecret, time.Now(), "https://hooks.example.com/slack", tt.contentType, body)
			if err := slackEnsure(t, r.Header, slackSecret, body); err != nil {
				t.Fatalf("slack-go refuses our signature (%v): %v", r.Header, err)
			}
			if err := slackEnsure(t, r.Header, slackOther, body); err == nil {
				t.Fatal("slack-go accepted our signature under another secret")
			}
			if err := slackEnsure(t, r.Header, slackSecret, tampered(body)); err == nil {
				t.Fatal("slack-go accepted our signature over another body")
			}
		})
	}
}

// Our signature carries the time we sign at, and slack-go holds it to its
// five minutes: a request we signed ten minutes ago is refused by it too.
func TestSlackGoRefusesOurSignatureFromTenMinutesAgo(t *testing.T) {
	body := []byte(`{"type":"event_callback","event_id":"Ev2"}`)
	r := ourSigned(t, verify.Config{Scheme: verify.SchemeSlack}, slackSecret, time.Now().Add(-10*time.Minute), "https://hooks.example.com/slack", "application/json", body)
	if err := slackEnsure(t, r.Header, slackSecret, body); err != slack.ErrExpiredTimestamp {
		t.Fatalf("slack-go on our ten-minute-old signature: %v, want ErrExpiredTimestamp", err)
	}
}
