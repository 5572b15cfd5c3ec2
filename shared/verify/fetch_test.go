package verify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is certServer that counts the GETs it answers, by URL.
type countingServer struct {
	certServer
	gets map[string]*atomic.Int32
}

func (c countingServer) RoundTrip(r *http.Request) (*http.Response, error) {
	if n := c.gets[r.URL.String()]; n != nil {
		n.Add(1)
	}
	return c.certServer.RoundTrip(r)
}

func snsVerify(t *testing.T, body string, rt http.RoundTripper, topics ...string) (Identity, error) {
	t.Helper()
	s, err := newScheme(Config{Scheme: "aws-sns"})
	if err != nil {
		t.Fatal(err)
	}
	s.(fetching).useClient(&http.Client{Transport: rt})
	var keys []key
	for _, tp := range topics {
		k, err := s.decodeKey([]byte(tp))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	r := httptest.NewRequest(http.MethodPost, "/sns", strings.NewReader(body))
	in := &input{ctx: context.Background(), r: r, body: []byte(body), now: time.Unix(fetchedNow, 0), tolerance: DefaultTolerance}
	return s.verify(in, keys)
}

const ordersTopic = "arn:aws:sns:us-west-2:123456789012:orders"

func TestSNSCertificateFromAnotherHostIsNeverFetched(t *testing.T) {
	for _, bad := range []string{
		"https://sns.us-west-2.amazonaws.com.evil.example/cert.pem",
		"http://sns.us-west-2.amazonaws.com/cert.pem",
		"https://evil.example/sns.us-west-2.amazonaws.com.pem",
		"https://sns.us-west-2.amazonaws.com:8443/cert.pem",
		"https://user@sns.us-west-2.amazonaws.com/cert.pem",
		"https://sns.us-west-2.amazonaws.com/cert.txt",
		"https://s3.us-west-2.amazonaws.com/cert.pem",
	} {
		t.Run(bad, func(t *testing.T) {
			// The attacker serves a certificate of their own at that URL.
			rt := certServer{bad: snsTestCert}
			body := strings.Replace(snsNotification, snsTestCertURL, bad, 1)
			if _, err := snsVerify(t, body, rt, ordersTopic); !errors.Is(err, ErrUntrustedKeyURL) {
				t.Fatalf("got %v, want ErrUntrustedKeyURL", err)
			}
		})
	}
}

func TestSNSMessageFromAnotherTopicIsRefused(t *testing.T) {
	// SNS signed it, but for a topic this source does not accept: anyone
	// can subscribe any URL to a topic of their own.
	_, err := snsVerify(t, snsNotification, certServer{snsTestCertURL: snsTestCert}, "arn:aws:sns:us-west-2:123456789012:payments")
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("got %v, want ErrBadSignature", err)
	}
}

func TestSNSCertificateThatCannotBeFetchedIsUnavailableNot401(t *testing.T) {
	_, err := snsVerify(t, snsNotification, certServer{}, ordersTopic)
	if !errors.Is(err, ErrSecretUnavailable) {
		t.Fatalf("got %v, want ErrSecretUnavailable (503)", err)
	}
}

func TestSNSSubscriptionIsConfirmedOnceAndNotDelivered(t *testing.T) {
	subscribe := "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:orders&Token=2336412f37"
	var gets, certGets atomic.Int32
	rt := countingServer{certServer{snsTestCertURL: snsTestCert, subscribe: "<ConfirmSubscriptionResponse/>"},
		map[string]*atomic.Int32{subscribe: &gets, snsTestCertURL: &certGets}}
	s, err := newScheme(Config{Scheme: "aws-sns"})
	if err != nil {
		t.Fatal(err)
	}
	s.(fetching).useClient(&http.Client{Transport: rt})
	for i := range 2 {
		r := httptest.NewRequest(http.MethodPost, "/sns", strings.NewReader(snsConfirmation))
		in := &input{ctx: context.Background(), r: r, body: []byte(snsConfirmation), now: time.Unix(fetchedNow, 0), tolerance: DefaultTolerance}
		id, err := s.verify(in, []key{{secret: []byte(ordersTopic)}})
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		if !id.Acknowledge {
			t.Fatalf("delivery %d: a SubscriptionConfirmation reached the function", i)
		}
	}
	if gets.Load() != 1 {
		t.Errorf("SubscribeURL fetched %d times, want once", gets.Load())
	}
	if certGets.Load() != 1 {
		t.Errorf("the certificate was fetched %d times; a warm cache fetches it once", certGets.Load())
	}
}

func TestSNSConfirmationWithForeignSubscribeURLIsRefused(t *testing.T) {
	// The signature covers SubscribeURL, so only a forged message could
	// carry another host; refused before any GET either way.
	body := strings.Replace(snsConfirmation, "https://sns.us-west-2.amazonaws.com/?Action", "https://evil.example/?Action", 1)
	if _, err := snsVerify(t, body, certServer{snsTestCertURL: snsTestCert}, ordersTopic); !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUntrustedKeyURL) {
		t.Fatalf("got %v, want a refusal", err)
	}
}

func TestCertificateCacheIsBounded(t *testing.T) {
	f := newFetcher(&http.Client{Transport: certServer{}})
	for i := range maxCerts * 3 {
		f.remember(strings.Repeat("x", i+1), nil)
	}
	if len(f.certs) > maxCerts || len(f.order) > maxCerts {
		t.Fatalf("cache holds %d certificates, bound %d", len(f.certs), maxCerts)
	}
}

func TestSNSKeyMustBeATopicARN(t *testing.T) {
	s, _ := newScheme(Config{Scheme: "aws-sns"})
	for _, bad := range []string{"orders", "arn:aws:s3:::bucket", "arn:aws:sns:us-west-2:123:orders"} {
		if _, err := s.decodeKey([]byte(bad)); err == nil {
			t.Errorf("%q accepted as a topic ARN", bad)
		}
	}
}

func paypalVerify(t *testing.T, webhookID string, headers map[string]string, rt http.RoundTripper) error {
	t.Helper()
	s, err := newScheme(Config{Scheme: "paypal"})
	if err != nil {
		t.Fatal(err)
	}
	s.(fetching).useClient(&http.Client{Transport: rt})
	r := httptest.NewRequest(http.MethodPost, "/paypal", strings.NewReader(paypalBody))
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	in := &input{ctx: context.Background(), r: r, body: []byte(paypalBody), now: time.Unix(fetchedNow, 0), tolerance: DefaultTolerance}
	_, err = s.verify(in, []key{{secret: []byte(webhookID)}})
	return err
}

func paypalVector(t *testing.T) vector {
	for _, v := range vectors {
		if v.provider == "paypal" {
			return v
		}
	}
	t.Fatal("no paypal vector")
	return vector{}
}

func TestPayPalEventSignedForAnotherWebhookIsRefused(t *testing.T) {
	v := paypalVector(t)
	if err := paypalVerify(t, "8PT597110X687430LKGECATA", v.headers, certServer(v.certs)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("got %v, want ErrBadSignature", err)
	}
}

func TestPayPalCertificateFromAnotherHostIsNeverFetched(t *testing.T) {
	v := paypalVector(t)
	for _, bad := range []string{
		"https://api.paypal.com.evil.example/v1/notifications/certs/CERT",
		"https://evil.example/v1/notifications/certs/CERT",
		"http://api.paypal.com/v1/notifications/certs/CERT",
		"https://api.paypal.com/v1/other/CERT",
	} {
		h := map[string]string{}
		for k, val := range v.headers {
			h[k] = val
		}
		h["Paypal-Cert-Url"] = bad
		if err := paypalVerify(t, v.key, h, certServer{bad: paypalTestCert}); !errors.Is(err, ErrUntrustedKeyURL) {
			t.Errorf("%s: got %v, want ErrUntrustedKeyURL", bad, err)
		}
	}
}
