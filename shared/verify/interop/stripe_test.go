package interop_test

// stripe-go (github.com/stripe/stripe-go/v83/webhook): ValidatePayload
// verifies, GenerateTestSignedPayload signs.

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v83/webhook"

	"github.com/cloudhooks/webhooks/shared/verify"
)

const (
	stripeSecret = "whsec_interop_stripe_0123456789abcdef"
	stripeOther  = "whsec_interop_stripe_fedcba9876543210"
)

var stripePayload = []byte(`{"id":"evt_interop","object":"event","type":"charge.succeeded","api_version":"2025-09-30.clover","data":{"object":{"id":"ch_1"}}}`)

func TestStripeGoAcceptsOurSignature(t *testing.T) {
	cfg := verify.Config{Scheme: verify.SchemeStripe}
	r := ourSigned(t, cfg, stripeSecret, time.Now(), "https://hooks.example.com/stripe", "application/json", stripePayload)
	header := r.Header.Get("Stripe-Signature")
	if err := webhook.ValidatePayload(stripePayload, header, stripeSecret); err != nil {
		t.Fatalf("stripe-go refuses our signature %q: %v", header, err)
	}
	// The same check refuses what it must, so the pass above means
	// something: another secret, another body.
	if err := webhook.ValidatePayload(stripePayload, header, stripeOther); err == nil {
		t.Fatal("stripe-go accepted our signature under another secret")
	}
	if err := webhook.ValidatePayload(tampered(stripePayload), header, stripeSecret); err == nil {
		t.Fatal("stripe-go accepted our signature over another body")
	}
}

func TestStripeGoSignatureVerifiesWithUs(t *testing.T) {
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: stripePayload, Secret: stripeSecret, Timestamp: fixed})
	r := post("https://hooks.example.com/stripe", "application/json", stripePayload)
	r.Header.Set("Stripe-Signature", signed.Header)

	id, err := ourVerifier(t, verify.Config{Scheme: verify.SchemeStripe}, stripeSecret, fixed).Verify(context.Background(), r, stripePayload)
	if err != nil {
		t.Fatalf("stripe-go's signature %q refused: %v", signed.Header, err)
	}
	if !id.Timestamp.Equal(fixed) || id.IDField != "id" {
		t.Fatalf("Identity = %+v, want the signed time %v and IDField id", id, fixed)
	}

	// During a rotation the secret holds both keys, and stripe-go's
	// signature under the newer one passes.
	rotating := ourVerifier(t, verify.Config{Scheme: verify.SchemeStripe}, stripeOther+"\n"+stripeSecret, fixed)
	if _, err := rotating.Verify(context.Background(), r, stripePayload); err != nil {
		t.Fatalf("stripe-go's signature under the second key of two refused: %v", err)
	}

	for _, tt := range []struct {
		name   string
		secret string
		body   []byte
		at     time.Time
		want   error
	}{
		{"another secret", stripeOther, stripePayload, fixed, verify.ErrBadSignature},
		{"another body", stripeSecret, tampered(stripePayload), fixed, verify.ErrBadSignature},
		{"ten minutes later", stripeSecret, stripePayload, fixed.Add(10 * time.Minute), verify.ErrTooOld},
	} {
		_, err := ourVerifier(t, verify.Config{Scheme: verify.SchemeStripe}, tt.secret, tt.at).Verify(context.Background(), r, tt.body)
		if !errors.Is(err, tt.want) {
			t.Errorf("stripe-go's signature, %s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// While a secret rolls Stripe sends one v1 entry per secret; the header
// passes when any one of them is under our key.
func TestStripeGoHeaderWithSeveralSignaturesVerifiesWithUs(t *testing.T) {
	theirs := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: stripePayload, Secret: stripeSecret, Timestamp: fixed})
	old := webhook.ComputeSignature(fixed, stripePayload, stripeOther)
	r := post("https://hooks.example.com/stripe", "application/json", stripePayload)
	r.Header.Set(http.CanonicalHeaderKey("stripe-signature"), theirs.Header+",v1="+hexString(old))
	if _, err := ourVerifier(t, verify.Config{Scheme: verify.SchemeStripe}, stripeSecret, fixed).Verify(context.Background(), r, stripePayload); err != nil {
		t.Fatalf("a header with stripe-go's signature and another refused: %v", err)
	}
	if _, err := ourVerifier(t, verify.Config{Scheme: verify.SchemeStripe}, "whsec_interop_neither_0123456789", fixed).Verify(context.Background(), r, stripePayload); !errors.Is(err, verify.ErrBadSignature) {
		t.Fatalf("a header none of whose signatures is under our key: %v, want ErrBadSignature", err)
	}
}
