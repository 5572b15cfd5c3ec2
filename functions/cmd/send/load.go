package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// load sends n requests from c workers and prints throughput, latency
// percentiles and the statuses seen: the README's load runs.
func (s *sender) load(ctx context.Context, n, c int, out io.Writer) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}}
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, n)
		statuses  = map[int]int{}
		failures  int
	)
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for range jobs {
				t := time.Now()
				status, _, err := s.send(ctx, client)
				d := time.Since(t)
				mu.Lock()
				if err != nil {
					failures++
				} else {
					statuses[status]++
					latencies = append(latencies, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))]
	}
	fmt.Fprintf(out, "%s: %d requests, concurrency %d, %d-byte body\n", s.url, n, c, len(s.body))
	fmt.Fprintf(out, "throughput %.0f req/s, latency p50 %s p99 %s, statuses %v, transport errors %d\n",
		float64(len(latencies))/elapsed.Seconds(), pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), statuses, failures)
	if failures > 0 || statuses[http.StatusOK]+statuses[http.StatusAccepted] != n {
		return fmt.Errorf("%d of %d requests did not succeed", n-statuses[http.StatusOK]-statuses[http.StatusAccepted], n)
	}
	return nil
}
