package interop_test

// twilio-go (github.com/twilio/twilio-go/client): RequestValidator
// verifies X-Twilio-Signature, HMAC-SHA1 over the URL Twilio called and
// the sorted form parameters, or over the URL alone with a bodySHA256
// query parameter for a JSON body. It has no signer. Our twilio scheme
// signs verify.url, the public URL from configuration.

import (
	"net/url"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/cloudhooks/webhooks/shared/verify"
)

const (
	twilioToken = "12345678901234567890123456789012"
	twilioOther = "abcdefabcdefabcdefabcdefabcdefab"
	twilioURL   = "https://hooks.example.com/store/twilio"
)

func TestTwilioGoAcceptsOurSignature(t *testing.T) {
	form := url.Values{
		"AccountSid": {"AC0123456789abcdef0123456789abcdef"},
		"CallSid":    {"CA1234567890ABCDE"},
		"Caller":     {"+12349013030"},
		"Digits":     {"1234"},
		"From":       {"+12349013030"},
		"To":         {"+18005551212"},
		"Body":       {"Hello & welcome, ünïcode"},
	}.Encode()
	for _, tt := range []struct {
		name, contentType, body string
		// sent is the URL the request is sent to: Twilio's webhook URL may
		// carry a query of its own, which it signs too.
		sent string
	}{
		{"form", "application/x-www-form-urlencoded", form, twilioURL},
		{"form with a query in the URL", "application/x-www-form-urlencoded", form, twilioURL + "?tenant=a1&lang=en"},
		{"json", "application/json", `{"event":"message.delivered","sid":"SM1"}`, twilioURL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := verify.Config{Scheme: verify.SchemeTwilio, URL: twilioURL}
			body := []byte(tt.body)
			r := ourSigned(t, cfg, twilioToken, time.Now(), tt.sent, tt.contentType, body)
			sig := r.Header.Get("X-Twilio-Signature")
			// The URL as Twilio called it: verify.url and the query sent
			// (for JSON, Sign added bodySHA256 to it).
			called := twilioURL
			if r.URL.RawQuery != "" {
				called += "?" + r.URL.RawQuery
			}
			v := client.NewRequestValidator(twilioToken)
			if !v.ValidateBody(called, body, sig) {
				t.Fatalf("twilio-go refuses our signature %q of %s", sig, called)
			}
			other := client.NewRequestValidator(twilioOther)
			if other.ValidateBody(called, body, sig) {
				t.Fatal("twilio-go accepted our signature under another auth token")
			}
			if v.ValidateBody(called, tampered(body), sig) {
				t.Fatal("twilio-go accepted our signature over another body")
			}
			// The URL is signed: the same request sent to another endpoint
			// of the account does not validate there.
			elsewhere := "https://hooks.example.com/store/other"
			if r.URL.RawQuery != "" {
				elsewhere += "?" + r.URL.RawQuery
			}
			if v.ValidateBody(elsewhere, body, sig) {
				t.Fatal("twilio-go accepted our signature for another URL")
			}
		})
	}
}

// Twilio's servers sign some URLs with the default port and some without;
// twilio-go tries both, and so do we. A signature of ours made for a
// verify.url with :443 validates with twilio-go for the URL without it.
func TestTwilioGoAcceptsOurSignatureOfTheURLWithItsDefaultPort(t *testing.T) {
	body := []byte(url.Values{"CallSid": {"CA1"}, "From": {"+1"}}.Encode())
	cfg := verify.Config{Scheme: verify.SchemeTwilio, URL: "https://hooks.example.com:443/store/twilio"}
	r := ourSigned(t, cfg, twilioToken, time.Now(), twilioURL, "application/x-www-form-urlencoded", body)
	v := client.NewRequestValidator(twilioToken)
	if !v.ValidateBody(twilioURL, body, r.Header.Get("X-Twilio-Signature")) {
		t.Fatal("twilio-go refuses our signature of the URL with :443 when given the URL without it")
	}
}
