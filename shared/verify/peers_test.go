package verify_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v83/webhook"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// The providers' own libraries sign, we verify; we sign, they verify.

func TestStripeGoSignaturesVerify(t *testing.T) {
	const secret = "whsec_test_secret"
	payload := []byte(`{"id":"evt_test","object":"event","type":"charge.succeeded","api_version":"2025-09-30.clover"}`)
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: now})
	r := httptest.NewRequest(http.MethodPost, "https://h.example/stripe", bytes.NewReader(payload))
	r.Header.Set("Stripe-Signature", signed.Header)
	id, err := newVerifier(t, verify.Config{Scheme: "stripe"}, secret).Verify(context.Background(), r, payload)
	if err != nil {
		t.Fatalf("stripe-go's signature refused: %v", err)
	}
	if !id.Timestamp.Equal(now) || id.IDField != "id" {
		t.Fatalf("Identity = %+v", id)
	}

	ours := httptest.NewRequest(http.MethodPost, "https://h.example/stripe", bytes.NewReader(payload))
	if err := verify.Sign(verify.Config{Scheme: "stripe"}, []byte(secret), time.Now(), ours, payload); err != nil {
		t.Fatal(err)
	}
	if err := webhook.ValidatePayload(payload, ours.Header.Get("Stripe-Signature"), secret); err != nil {
		t.Fatalf("stripe-go refuses our signature: %v", err)
	}
}

func TestStandardWebhooksLibrarySignaturesVerify(t *testing.T) {
	wh, err := standardwebhooks.NewWebhook(whKey)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"type":"invoice.paid","data":{"n":1}}`)
	sig, err := wh.Sign("msg_lib", now, payload)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "https://h.example/std", bytes.NewReader(payload))
	r.Header.Set("webhook-id", "msg_lib")
	r.Header.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
	r.Header.Set("webhook-signature", "v1a,ignored "+sig)
	if _, err := newVerifier(t, verify.Config{Scheme: "standardwebhooks"}, whKey).Verify(context.Background(), r, payload); err != nil {
		t.Fatalf("the reference library's signature refused: %v", err)
	}

	ours := httptest.NewRequest(http.MethodPost, "https://h.example/std", bytes.NewReader(payload))
	if err := verify.Sign(verify.Config{Scheme: "standardwebhooks"}, []byte(whKey), time.Now(), ours, payload); err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(payload, ours.Header); err != nil {
		t.Fatalf("the reference library refuses our signature: %v", err)
	}
}

// Benchmarks: our verification beside the reference libraries verifying
// the same request, and beside a bare crypto/hmac over the same bytes (the
// floor: the work is one HMAC pass). Run with
//
//	go test ./shared/verify -run '^$' -bench . -benchmem
var benchSizes = []int{1 << 10, 64 << 10, 1 << 20}

func benchPayload(n int) []byte {
	b := bytes.Repeat([]byte("x"), n)
	copy(b, `{"type":"bench","pad":"`)
	b[n-2], b[n-1] = '"', '}'
	return b
}

func BenchmarkStripe(b *testing.B) {
	const secret = "whsec_bench"
	for _, n := range benchSizes {
		payload := benchPayload(n)
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now()})
		r := httptest.NewRequest(http.MethodPost, "https://h.example/stripe", nil)
		r.Header.Set("Stripe-Signature", signed.Header)
		v := newVerifier(b, verify.Config{Scheme: "stripe"}, secret, verify.WithClock(time.Now))
		b.Run(fmt.Sprintf("ours/%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(context.Background(), r, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("stripe-go/%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := webhook.ValidatePayload(payload, signed.Header, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
		benchHMAC(b, n, payload)
	}
}

func BenchmarkStandardWebhooks(b *testing.B) {
	wh, err := standardwebhooks.NewWebhook(whKey)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range benchSizes {
		payload := benchPayload(n)
		// One instant for the signature and its header: two calls to
		// time.Now can fall in different seconds.
		now := time.Now()
		sig, err := wh.Sign("msg_bench", now, payload)
		if err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "https://h.example/std", nil)
		r.Header.Set("webhook-id", "msg_bench")
		r.Header.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
		r.Header.Set("webhook-signature", sig)
		v := newVerifier(b, verify.Config{Scheme: "standardwebhooks"}, whKey, verify.WithClock(time.Now))
		b.Run(fmt.Sprintf("ours/%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(context.Background(), r, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("standard-webhooks/%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := wh.Verify(payload, r.Header); err != nil {
					b.Fatal(err)
				}
			}
		})
		benchHMAC(b, n, payload)
	}
}

// benchHMAC is the floor: one HMAC-SHA256 over the body and a compare.
func benchHMAC(b *testing.B, n int, payload []byte) {
	key := []byte("key")
	want := hmac.New(sha256.New, key)
	want.Write(payload)
	sum := want.Sum(nil)
	b.Run(fmt.Sprintf("crypto-hmac/%dKiB", n>>10), func(b *testing.B) {
		b.SetBytes(int64(n))
		b.ReportAllocs()
		for b.Loop() {
			m := hmac.New(sha256.New, key)
			m.Write(payload)
			if !hmac.Equal(m.Sum(nil), sum) {
				b.Fatal("mismatch")
			}
		}
	})
}
