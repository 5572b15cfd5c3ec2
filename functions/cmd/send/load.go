package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// load sends n requests from c workers, prints a progress line every
// second and then throughput, latency percentiles, the statuses and what
// the function did (stored, duplicate, queued...): the README's load runs.
func (s *sender) load(ctx context.Context, n, c int, out io.Writer) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}}
	st := &loadStats{statuses: map[int]int{}, outcomes: map[string]int{}, latencies: make([]time.Duration, 0, n)}
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	fmt.Fprintf(out, "%s: %d requests, concurrency %d, %d-byte body\n", s.url, n, c, len(s.body))
	start := time.Now()
	done := make(chan struct{})
	var progress sync.WaitGroup
	progress.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintln(out, st.line(time.Since(start), n))
			}
		}
	})
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for range jobs {
				t := time.Now()
				res, err := s.send(ctx, client)
				st.add(res, err, time.Since(t))
			}
		})
	}
	wg.Wait()
	close(done)
	progress.Wait()
	elapsed := time.Since(start)
	fmt.Fprintln(out, st.line(elapsed, n))
	st.mu.Lock()
	defer st.mu.Unlock()
	fmt.Fprintf(out, "throughput %.0f req/s, latency p50 %s p99 %s, statuses %v, outcomes %s, transport errors %d\n",
		float64(len(st.latencies))/elapsed.Seconds(), st.pct(0.50), st.pct(0.99), st.statuses, st.outcomeText(), st.failures)
	if ok := st.ok(); ok != n {
		return fmt.Errorf("%d of %d requests did not succeed", n-ok, n)
	}
	return nil
}

// loadStats is what a load run has seen so far.
type loadStats struct {
	mu        sync.Mutex
	latencies []time.Duration // in arrival order; pct sorts a copy
	statuses  map[int]int
	outcomes  map[string]int // the replies' result or error: stored, duplicate, queued...
	failures  int            // transport errors
}

func (st *loadStats) add(res result, err error, d time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err != nil {
		st.failures++
		return
	}
	st.statuses[res.status]++
	st.outcomes[res.outcome]++
	st.latencies = append(st.latencies, d)
}

// ok counts the 2xx answers.
func (st *loadStats) ok() int {
	ok := 0
	for status, k := range st.statuses {
		if status >= 200 && status < 300 {
			ok += k
		}
	}
	return ok
}

// line is the progress line: requests answered, rate, errors and the
// latency percentiles so far.
func (st *loadStats) line(elapsed time.Duration, n int) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	answered := len(st.latencies) + st.failures
	return fmt.Sprintf("%6.1fs %d/%d answered, %.0f req/s, errors %d, p50 %s p99 %s, %s",
		elapsed.Seconds(), answered, n, float64(answered)/elapsed.Seconds(), answered-st.ok(), st.pct(0.50), st.pct(0.99), st.outcomeText())
}

// pct is a latency percentile; the caller holds mu.
func (st *loadStats) pct(p float64) time.Duration {
	if len(st.latencies) == 0 {
		return 0
	}
	sorted := slices.Clone(st.latencies)
	slices.Sort(sorted)
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))].Round(10 * time.Microsecond)
}

// outcomeText lists the outcomes, "duplicate 199, stored 1"; the caller
// holds mu.
func (st *loadStats) outcomeText() string {
	var parts []string
	for _, o := range slices.Sorted(maps.Keys(st.outcomes)) {
		name := o
		if name == "" {
			name = "no reply"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, st.outcomes[o]))
	}
	return strings.Join(parts, ", ")
}
