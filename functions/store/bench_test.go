package store

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkHandle measures Handle against the BigQuery emulator with 80
// concurrent callers, with and without group commit, and reports the
// appends sent per event (appends/op). The emulator, not the network,
// bounds the figures: they compare the two modes, not production latency.
//
//	go test -run '^$' -bench Handle -benchtime 400x ./functions/store
func BenchmarkHandle(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts writerOptions
	}{
		{"group-commit", writerOptions{}},
		{"no-group-commit", writerOptions{Wait: -1}},
	} {
		e := newEmulated(b, bc.opts)
		// Open the stream outside the measurement.
		if _, err := e.p.Handle(context.Background(), testEvent("warmup", "w")); err != nil {
			b.Fatal(err)
		}
		var seq atomic.Int64
		b.Run(bc.name, func(b *testing.B) {
			b.SetParallelism(max(1, 80/runtime.GOMAXPROCS(0)))
			before := e.sink.writer.appends.Load()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ev := testEvent("bench", fmt.Sprintf("e%d", seq.Add(1)))
					if _, err := e.p.Handle(context.Background(), ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(e.sink.writer.appends.Load()-before)/float64(b.N), "appends/op")
		})
	}
}

// BenchmarkLocalSink measures the local sink: one JSON line appended and
// fsynced per event, from concurrent callers.
func BenchmarkLocalSink(b *testing.B) {
	sk := newLocalSink(b.TempDir())
	b.Cleanup(func() { _ = sk.close() })
	p := newPattern(sk)
	var seq atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Handle(context.Background(), testEvent("bench", fmt.Sprintf("e%d", seq.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkEncodeRow measures turning one event with a 1 KiB payload into
// its Storage Write API row: the Store's own work per event beyond the
// shared pipeline and the append.
func BenchmarkEncodeRow(b *testing.B) {
	rs, err := loadRowSchema()
	if err != nil {
		b.Fatal(err)
	}
	ev := testEvent("github", "d-1")
	ev.Payload = json.RawMessage(`{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 1000) + `"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev.Payload)))
	for b.Loop() {
		if _, err := encodeRow(rs, ev, ""); err != nil {
			b.Fatal(err)
		}
	}
}
