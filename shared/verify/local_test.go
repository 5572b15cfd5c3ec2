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
	certURL := LocalCertURL("sns-topics")
	body, err := SignSNS([]byte(signing), certURL, topic, `{"hello":"world"}`, time.Now())
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
	s.(fetching).useClient(&http.Client{Transport: localCerts{}})
	if err := verifyNow(); err == nil {
		t.Fatal("verified with no certificate served")
	}
	s.(fetching).useClient(&http.Client{Transport: localCerts{certURL: cert}})
	if err := verifyNow(); err != nil {
		t.Fatalf("the local SNS message is refused: %v", err)
	}
}
