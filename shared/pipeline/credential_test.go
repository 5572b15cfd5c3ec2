package pipeline

import "testing"

// Tools that show requests mask exactly what events never keep: any
// spelling of a credential header, but not a delivery id.
func TestCredentialHeaderNamesWhatEventsDrop(t *testing.T) {
	for name, want := range map[string]bool{
		"x-hub-signature-256": true, "Stripe-Signature": true, "AUTHORIZATION": true,
		"X-Gitlab-Token": true, "X-Shopify-Hmac-Sha256": true, "Cookie": true,
		"Idempotency-Key": false, "X-GitHub-Delivery": false, "Content-Type": false,
	} {
		if got := CredentialHeader(name); got != want {
			t.Errorf("CredentialHeader(%q) = %v, want %v", name, got, want)
		}
	}
}
