package verify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The local loop's SNS: a message signed by SignSNS with a DevKeys key
// verifies once the runner serves its certificate at LocalCertURL, and
// only then.
func TestLocalSNSMessageVerifiesThroughTheServedCertificate(t *testing.T) {
	topic, signing, err := DevKeys("aws-sns")
	if err != nil {
		t.Fatal(err)
	}
	body, err := SignSNS([]byte(signing), topic, `{"hello":"world"}`, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := newScheme(Config{Scheme: "aws-sns"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.decodeKey([]byte(topic))
	if err != nil {
		t.Fatal(err)
	}
	verifyNow := func() error {
		r := httptest.NewRequest(http.MethodPost, "/sns", strings.NewReader(string(body)))
		_, err := s.verify(&input{ctx: context.Background(), r: r, body: body, now: time.Now(), tolerance: DefaultTolerance}, []key{k})
		return err
	}
	cert, err := LocalCertificate([]byte(signing))
	if err != nil {
		t.Fatal(err)
	}
	certURL := LocalCertURL(FamilySNS, cert)
	s.(fetching).useClient(&http.Client{Transport: localCerts{}})
	if err := verifyNow(); err == nil {
		t.Fatal("verified with no certificate served")
	}
	s.(fetching).useClient(&http.Client{Transport: localCerts{certURL: cert}})
	if err := verifyNow(); err != nil {
		t.Fatalf("the local SNS message is refused: %v", err)
	}
}

// The PayPal family's signer beside its verifier: a request signed with a
// DevKeys file verifies under the certificate the runner serves, and an
// event signed for another webhook id does not.
func TestLocalPayPalRequestVerifiesForItsWebhookOnly(t *testing.T) {
	webhookID, signing, err := DevKeys("paypal")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newScheme(Config{Scheme: "paypal"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := LocalCertificate([]byte(signing))
	if err != nil {
		t.Fatal(err)
	}
	s.(fetching).useClient(&http.Client{Transport: localCerts{LocalCertURL(FamilyPayPal, cert): cert}})
	body := []byte(`{"id":"WH-1","event_type":"PAYMENT.SALE.COMPLETED"}`)
	r := httptest.NewRequest(http.MethodPost, "/paypal", strings.NewReader(string(body)))
	if err := s.sign(r, body, []byte(signing), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id string
		ok bool
	}{{webhookID, true}, {"LOCALOTHERWEBHOOK", false}} {
		in := &input{ctx: context.Background(), r: r, body: body, now: time.Now(), tolerance: DefaultTolerance}
		_, err := s.verify(in, []key{{secret: []byte(tt.id)}})
		if (err == nil) != tt.ok {
			t.Errorf("webhook id %s: %v, want accepted %v", tt.id, err, tt.ok)
		}
	}
}
