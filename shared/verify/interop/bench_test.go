package interop_test

// Benchmarks: our verification beside the providers' libraries verifying
// the same request, and beside a bare crypto/hmac over the same bytes (the
// floor: the work is one HMAC pass). Run from this folder with
//
//	go test -run '^$' -bench . -benchmem

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v83/webhook"

	"github.com/cloudhooks/webhooks/shared/verify"
)

var benchSizes = []int{1 << 10, 64 << 10, 1 << 20}

func benchPayload(n int) []byte {
	b := bytes.Repeat([]byte("x"), n)
	copy(b, `{"type":"bench","pad":"`)
	b[n-2], b[n-1] = '"', '}'
	return b
}

// benchVerifier is ourVerifier on the real clock: the SDKs beside it
// check freshness against time.Now.
func benchVerifier(b *testing.B, cfg verify.Config, secret string) *verify.Verifier {
	b.Helper()
	cfg.Secret = secretRef
	v, err := verify.New("bench", cfg, memSecrets{secretRef: secret}, verify.WithClock(time.Now))
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func BenchmarkStripe(b *testing.B) {
	const secret = "whsec_bench_0123456789abcdef"
	for _, n := range benchSizes {
		payload := benchPayload(n)
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now()})
		r := httptest.NewRequest(http.MethodPost, "https://h.example/stripe", nil)
		r.Header.Set("Stripe-Signature", signed.Header)
		v := benchVerifier(b, verify.Config{Scheme: verify.SchemeStripe}, secret)
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
		r.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		r.Header.Set("webhook-signature", sig)
		v := benchVerifier(b, verify.Config{Scheme: verify.SchemeStandardWebhooks}, whKey)
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
