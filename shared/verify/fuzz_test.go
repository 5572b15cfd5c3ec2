package verify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// FuzzHeaders feeds arbitrary header values and bodies to every scheme's
// parser. Properties: no panic, no forged request passes, and every error
// is one of the documented sentinels, so that the pipeline can always map
// it to its status.
func FuzzHeaders(f *testing.F) {
	f.Add("t=1700000000,v1=00", "1700000000", "msg_1", "v1,AAAA", "sha256=00", "text/plain", []byte(`{"a":1}`))
	f.Add("t=,v1=,v1", "-1", "", "v1, v1,,", "sha256=", "application/x-www-form-urlencoded", []byte("a=1&a=2&%zz"))
	f.Add("v0=zz", "99999999999999999999", "x", "v1a,abc v1,Zm9v", "Basic Og==", "application/json; charset=utf-8", []byte{})
	sentinels := []error{verify.ErrMissingHeader, verify.ErrMalformedHeader, verify.ErrBadSignature,
		verify.ErrTooOld, verify.ErrTooNew, verify.ErrUnknownKey, verify.ErrSecretUnavailable}
	var verifiers []*verify.Verifier
	for _, c := range schemeCases {
		verifiers = append(verifiers, newVerifier(f, c.cfg, c.key+"\n"+c.other))
	}
	f.Fuzz(func(t *testing.T, sig, ts, id, multi, prefixed, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "https://h.example/src?bodySHA256=00", strings.NewReader(""))
		r.Header.Set("Content-Type", contentType)
		for _, h := range []string{"Stripe-Signature", "X-Slack-Signature", "X-Zm-Signature", "X-Shopify-Hmac-Sha256",
			"Logto-Signature-Sha-256", "X-Twilio-Signature", "Secret", "X-Gitlab-Token", "X-Signature", "X-Sig"} {
			r.Header.Set(h, sig)
		}
		for _, h := range []string{"X-Slack-Request-Timestamp", "X-Zm-Request-Timestamp", "Webhook-Timestamp", "Svix-Timestamp"} {
			r.Header.Set(h, ts)
		}
		r.Header.Set("Webhook-Id", id)
		r.Header.Set("Svix-Id", id)
		r.Header.Set("Webhook-Signature", multi)
		r.Header.Set("Svix-Signature", multi)
		r.Header.Set("X-Hub-Signature-256", prefixed)
		r.Header.Set("X-Twitter-Webhooks-Signature", prefixed)
		r.Header.Set("Authorization", prefixed)
		for i, v := range verifiers {
			_, err := v.Verify(context.Background(), r, body)
			if err == nil {
				t.Fatalf("%s: unsigned fuzz input passed verification", schemeCases[i].name)
			}
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("%s: error %v is not a documented sentinel", schemeCases[i].name, err)
			}
		}
	})
}
