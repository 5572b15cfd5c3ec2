package relay

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"

	"github.com/cloudhooks/webhooks/shared/config"
)

// sendWorkers is the number of concurrent sends: a Cloud Run instance of
// Relay at concurrency 80.
const (
	sendWorkers = 80
	sendsPerOp  = 1000
)

// BenchmarkSend sends 1,000 messages per op at 80 concurrent requests
// through the real firebase-admin-go client to the local FCM server
// (fcmtest, HTTP/2 over TLS), and reports sends/s and the TCP connections
// the server accepted over the whole run: HTTP/2 should carry every send
// on one connection. "client" calls messaging.Client.Send; "relay" runs
// whole deliveries (match, render, claim in memory, send, complete).
func BenchmarkSend(b *testing.B) {
	b.Run("client", func(b *testing.B) {
		h := newHarness(b, oneTopic, nil)
		msg := &messaging.Message{Topic: "payments", Notification: &messaging.Notification{Title: "Paid 1"}}
		benchSends(b, h, func(ctx context.Context, _ int) error {
			_, err := h.send.sender.Send(ctx, msg)
			return err
		})
	})
	b.Run("relay", func(b *testing.B) {
		h := newHarness(b, oneTopic, nil)
		var seq atomic.Int64
		benchSends(b, h, func(ctx context.Context, _ int) error {
			ev := newEvent("x", "evt_"+strconv.FormatInt(seq.Add(1), 10), `{"amount":1}`)
			_, err := h.relay.Handle(ctx, ev)
			return err
		})
	})
}

// benchSends runs sendsPerOp calls of send per op on sendWorkers
// goroutines and reports the metrics. One send first opens the
// connection, as an instance's first event does: without it the first 80
// concurrent sends find no connection and each dials its own (Go's HTTP/2
// transport does not coalesce concurrent first dials).
func benchSends(b *testing.B, h *harness, send func(ctx context.Context, i int) error) {
	ctx := context.Background()
	if err := send(ctx, -1); err != nil {
		b.Fatalf("first send: %v", err)
	}
	var elapsed time.Duration
	for b.Loop() {
		jobs := make(chan int, sendsPerOp)
		for i := range sendsPerOp {
			jobs <- i
		}
		close(jobs)
		start := time.Now()
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range sendWorkers {
			wg.Go(func() {
				for i := range jobs {
					if send(ctx, i) != nil {
						failed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(start)
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d sends failed", n)
		}
	}
	b.ReportMetric(float64(sendsPerOp*b.N)/elapsed.Seconds(), "sends/s")
	b.ReportMetric(float64(h.fcm.Connections()), "conns")
}

// BenchmarkRender measures rule matching and rendering per event with the
// sample configuration's Stripe rules, compiled once: "plan" from decoded
// variables, "event" including the payload decode (event.Vars).
func BenchmarkRender(b *testing.B) {
	f, err := config.Parse(config.Embedded())
	if err != nil {
		b.Fatal(err)
	}
	var src config.Source
	for _, s := range f.Relay.Sources {
		if s.Name == "stripe" {
			src = s
		}
	}
	p, err := newPatternWith(src, nil)
	if err != nil {
		b.Fatal(err)
	}
	ev := newEvent("payment_intent.succeeded", "evt_1",
		`{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":2000,"currency":"usd","customer":"cus_1","metadata":{"order":"o-7"}}}}`)
	now := time.Now()
	b.Run("plan", func(b *testing.B) {
		vars, err := ev.Vars()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if plan, err := p.plan(ev, vars, now); err != nil || len(plan) != 1 {
				b.Fatalf("plan = %d deliveries, %v", len(plan), err)
			}
		}
	})
	b.Run("event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vars, err := ev.Vars()
			if err != nil {
				b.Fatal(err)
			}
			if plan, err := p.plan(ev, vars, now); err != nil || len(plan) != 1 {
				b.Fatalf("plan = %d deliveries, %v", len(plan), err)
			}
		}
	})
}
