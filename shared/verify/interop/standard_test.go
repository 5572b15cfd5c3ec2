package interop_test

// Standard Webhooks' reference library
// (github.com/standard-webhooks/standard-webhooks/libraries/go) and Svix's
// (github.com/svix/svix-webhooks/go): each Webhook both signs (Sign) and
// verifies (Verify) v1, HMAC-SHA256 over "id.timestamp.body". Neither
// implements v1a (Ed25519): both skip every entry that is not v1.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/cloudhooks/webhooks/shared/verify"
)

const (
	whKey   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	whOther = "whsec_YW5vdGhlciBrZXkgb2YgMzIgYnl0ZXMuLi4uLi4uLi4="
)

var whPayload = []byte(`{"type":"invoice.paid","data":{"id":"inv_1","amount":1200}}`)

// sdkWebhook is what both libraries' Webhook offers.
type sdkWebhook interface {
	Sign(msgID string, timestamp time.Time, payload []byte) (string, error)
	Verify(payload []byte, headers http.Header) error
}

// standardLibraries are the two libraries, each with the scheme of ours
// whose headers it reads first and the header names of that scheme.
var standardLibraries = []struct {
	name             string
	scheme           string
	new              func(secret string) (sdkWebhook, error)
	idH, timeH, sigH string
}{
	{"standard-webhooks", verify.SchemeStandardWebhooks,
		func(s string) (sdkWebhook, error) { return standardwebhooks.NewWebhook(s) },
		"webhook-id", "webhook-timestamp", "webhook-signature"},
	{"svix", verify.SchemeSvix,
		func(s string) (sdkWebhook, error) { return svix.NewWebhook(s) },
		"svix-id", "svix-timestamp", "svix-signature"},
}

func TestStandardWebhooksLibrariesAcceptOurSignature(t *testing.T) {
	for _, lib := range standardLibraries {
		t.Run(lib.name, func(t *testing.T) {
			wh, err := lib.new(whKey)
			if err != nil {
				t.Fatal(err)
			}
			other, err := lib.new(whOther)
			if err != nil {
				t.Fatal(err)
			}
			r := ourSigned(t, verify.Config{Scheme: lib.scheme}, whKey, time.Now(), "https://hooks.example.com/std", "application/json", whPayload)
			if r.Header.Get(lib.sigH) == "" {
				t.Fatalf("our %s signature is not in %s: %v", lib.scheme, lib.sigH, r.Header)
			}
			if err := wh.Verify(whPayload, r.Header); err != nil {
				t.Fatalf("%s refuses our signature (%v): %v", lib.name, r.Header, err)
			}
			if err := other.Verify(whPayload, r.Header); err == nil {
				t.Fatalf("%s accepted our signature under another key", lib.name)
			}
			if err := wh.Verify(tampered(whPayload), r.Header); err == nil {
				t.Fatalf("%s accepted our signature over another body", lib.name)
			}
		})
	}
}

func TestStandardWebhooksLibrarySignaturesVerifyWithUs(t *testing.T) {
	for _, lib := range standardLibraries {
		t.Run(lib.name, func(t *testing.T) {
			wh, err := lib.new(whKey)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := wh.Sign("msg_interop", fixed, whPayload)
			if err != nil {
				t.Fatal(err)
			}
			r := post("https://hooks.example.com/std", "application/json", whPayload)
			r.Header.Set(lib.idH, "msg_interop")
			r.Header.Set(lib.timeH, strconv.FormatInt(fixed.Unix(), 10))
			r.Header.Set(lib.sigH, sig)

			// Either scheme reads either header family, as the libraries do.
			for _, scheme := range []string{verify.SchemeStandardWebhooks, verify.SchemeSvix} {
				id, err := ourVerifier(t, verify.Config{Scheme: scheme}, whKey, fixed).Verify(context.Background(), r, whPayload)
				if err != nil {
					t.Fatalf("scheme %s refuses %s's signature %q: %v", scheme, lib.name, sig, err)
				}
				if id.ID != "msg_interop" || !id.Timestamp.Equal(fixed) {
					t.Fatalf("scheme %s: Identity = %+v, want ID msg_interop at %v", scheme, id, fixed)
				}
			}

			// An entry of a version we do not hold a key for (v1a, which
			// neither library signs) before theirs is passed over.
			r.Header.Set(lib.sigH, "v1a,bm90IGFuIEVkMjU1MTkgc2lnbmF0dXJl "+sig)
			if _, err := ourVerifier(t, verify.Config{Scheme: lib.scheme}, whKey, fixed).Verify(context.Background(), r, whPayload); err != nil {
				t.Fatalf("%s's signature after a v1a entry refused: %v", lib.name, err)
			}

			r.Header.Set(lib.sigH, sig)
			if _, err := ourVerifier(t, verify.Config{Scheme: lib.scheme}, whOther, fixed).Verify(context.Background(), r, whPayload); !errors.Is(err, verify.ErrBadSignature) {
				t.Fatalf("%s's signature under another key: %v, want ErrBadSignature", lib.name, err)
			}
			if _, err := ourVerifier(t, verify.Config{Scheme: lib.scheme}, whKey, fixed).Verify(context.Background(), r, tampered(whPayload)); !errors.Is(err, verify.ErrBadSignature) {
				t.Fatalf("%s's signature over another body: %v, want ErrBadSignature", lib.name, err)
			}
			if _, err := ourVerifier(t, verify.Config{Scheme: lib.scheme}, whKey, fixed.Add(-10*time.Minute)).Verify(context.Background(), r, whPayload); !errors.Is(err, verify.ErrTooNew) {
				t.Fatalf("%s's signature ten minutes ahead of our clock: %v, want ErrTooNew", lib.name, err)
			}
		})
	}
}
