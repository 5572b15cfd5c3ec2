package webhooks_test

// The cost inputs of docs/performance.md: what one webhook costs each
// function in CPU, wall time and log bytes, measured on the binaries the
// deploy builds, beside the least a webhook handler can be.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cloudhooks/webhooks/functions/trigger"
	"github.com/cloudhooks/webhooks/shared/testenv"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// costBodyBytes is the body size the cost figures are for: a typical
// GitHub push or Stripe event is 2–8 KiB; 2 KiB is the unit.
const costBodyBytes = 2048

// costSubject is one server measured by BenchmarkPerWebhook.
type costSubject struct {
	target string   // entry point, or bareTarget
	env    []string // beyond instanceEnv: the emulators it writes to
	status int      // the answer to every delivery
	// delivery returns the i-th request's body and headers, unsigned;
	// scheme and key sign it.
	delivery    func(i int64) ([]byte, http.Header)
	scheme, key string
	// emptySink, when set, empties the subject's sink: a run of 20,000
	// 64 KiB rows (1.3 GB) leaves the BigQuery emulator refusing the next
	// process's appends (503s in its warm-up).
	emptySink func()
}

// bareTarget names the baseline: a net/http server that reads the body,
// checks GitHub's HMAC and answers 200, nothing else.
const bareTarget = "bare-hmac"

// BenchmarkPerWebhook measures the cost inputs of docs/performance.md per
// function at 2 KiB bodies: each of Store, Relay and Trigger built from its
// deploy archive as the buildpack builds it (or taken from
// WEBHOOKS_BENCH_BIN, where BenchmarkColdStart left them), started as
// Cloud Run starts an instance, and sent b.N signed webhooks, each with
// its own id, at concurrency 1 and then 80, beside bareTarget (a stdlib
// binary: read the body, check GitHub's HMAC, answer 200).
//
// Per run: cpu-ms/webhook is the server process's CPU time (user + system,
// /proc/PID/stat, every thread) over the run divided by its requests, the
// figure that sets how much of an instance one webhook occupies;
// ms/request is the mean wall time of one request as the sender sees it
// (at c80 with 80 in flight); req/s the run's throughput; log-B/webhook
// the bytes the process wrote to stdout and stderr, which Cloud Logging
// ingests. ns/op is the run's elapsed time per request.
//
// The sinks are the ones the package benchmarks use: Store appends rows
// through the Storage Write API to the BigQuery emulator (group commit
// on); Relay matches the sample configuration's Stripe rule and renders
// its FCM message, recorded by the dry-run sender with claims in memory
// (FCM and Firestore latency are not in these figures); Trigger matches
// the sample configuration's two GitHub push rules and publishes their
// two jobs to the Pub/Sub emulator. Emulators answer on loopback in
// well under a millisecond; production backends add their own latency to
// ms/request (not to CPU).
//
//	go test -run '^$' -bench PerWebhook -benchtime 3000x .
func BenchmarkPerWebhook(b *testing.B) {
	for _, s := range costSubjects(b, costBodyBytes) {
		bin := costBinary(b, s.target)
		b.Run(s.target, func(b *testing.B) {
			proc, l := startSubject(b, s, bin)
			ctx := context.Background()
			for _, c := range []int{1, 80} {
				b.Run(fmt.Sprintf("c%d", c), func(b *testing.B) {
					cpu0, log0 := cpuTime(b, proc.Pid()), len(proc.Output())
					b.ResetTimer()
					start := time.Now()
					l.busy.Store(0)
					if err := l.run(ctx, b.N, c); err != nil {
						b.Fatalf("%v\n%s", err, tail(proc.Output()))
					}
					elapsed := time.Since(start)
					b.StopTimer()
					cpu := cpuTime(b, proc.Pid()) - cpu0
					b.ReportMetric(ms(cpu)/float64(b.N), "cpu-ms/webhook")
					b.ReportMetric(ms(time.Duration(l.busy.Load()))/float64(b.N), "ms/request")
					b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
					b.ReportMetric(float64(len(proc.Output())-log0)/float64(b.N), "log-B/webhook")
				})
			}
		})
	}
}

// loadBodyBytes and loadConcurrency are the memory benchmark's load: 80
// requests in flight (the functions' default concurrency) of 64 KiB each.
const (
	loadBodyBytes   = 64 << 10
	loadConcurrency = 80
)

// BenchmarkMemoryUnderLoad measures each function's peak memory under 80
// concurrent signed 64 KiB webhooks: the binaries, sinks and emulators of
// BenchmarkPerWebhook, started with the Go runtime settings terraform
// gives the instance (GOMEMLIMIT=36MiB for Store, terraform/store.tf;
// Go's defaults for the others) and, beside them, with Go's default for
// Store and GOGC=50 for the others, a fresh process per run. peak-MiB is
// the process's VmHWM (/proc/PID/status: the resident set's high-water
// mark, what Cloud Run's memory limit is measured against) after the
// warm-up and b.N requests.
//
//	go test -run '^$' -bench MemoryUnderLoad -benchtime 20000x .
func BenchmarkMemoryUnderLoad(b *testing.B) {
	for _, s := range costSubjects(b, loadBodyBytes) {
		if s.target == bareTarget {
			continue
		}
		bin := costBinary(b, s.target)
		// The deployed settings, and beside them Go's default for a
		// function with a memory limit, GOGC=50 for one without (exec
		// keeps the last of a repeated variable).
		other := "GOGC=50"
		if _, ok := runtimeEnvironment(b, deployArchives(b), s.target)["GOMEMLIMIT"]; ok {
			other = "GOMEMLIMIT=off"
		}
		for _, run := range []struct {
			name string
			env  []string
		}{{"deployed", nil}, {other, []string{other}}} {
			s := s
			s.env = append(slices.Clone(s.env), run.env...)
			b.Run(s.target+"/"+run.name, func(b *testing.B) {
				if s.emptySink != nil {
					s.emptySink()
				}
				proc, l := startSubject(b, s, bin)
				b.ResetTimer()
				start := time.Now()
				if err := l.run(context.Background(), b.N, loadConcurrency); err != nil {
					b.Fatalf("%v\n%s", err, tail(proc.Output()))
				}
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(statusMiB(b, proc.Pid(), "VmHWM"), "peak-MiB")
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			})
		}
	}
}

// costSubjects are the servers the benchmarks measure, each sent bodies
// of bodyBytes.
func costSubjects(b *testing.B, bodyBytes int) []costSubject {
	bq := testenv.BigQuery(b)
	_, psHost := testenv.PubSub(b)
	// Trigger without GOOGLE_CLOUD_PROJECT publishes in trigger.LocalProject
	// and keeps its claims in memory.
	jobs := createTopics(b, trigger.LocalProject, psHost)

	githubKey := devKeys["github-webhook-secret"]
	pad := func(prefix, suffix string) []byte {
		n := max(0, bodyBytes-len(prefix)-len(suffix))
		return []byte(prefix + strings.Repeat("x", n) + suffix)
	}
	pushBody := pad(`{"ref":"refs/heads/main","deleted":false,"after":"abc123","repository":{"full_name":"o/r"},"pusher":{"name":"octocat"},"pad":"`, `"}`)
	push := func(prefix string) func(i int64) ([]byte, http.Header) {
		return func(i int64) ([]byte, http.Header) {
			return pushBody, http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"push"},
				"X-Github-Delivery": {prefix + strconv.FormatInt(i, 10)}}
		}
	}
	return []costSubject{
		{target: bareTarget, status: http.StatusOK, delivery: push("bare-"), scheme: "github", key: githubKey},
		{target: "Store", status: http.StatusOK, delivery: push("store-"), scheme: "github", key: githubKey,
			env: append(bq.Env(), "GOOGLE_CLOUD_PROJECT="+bq.Project,
				// Never reached: a payload under 8 MiB is kept in its row.
				"STORE_PAYLOAD_BUCKET=webhooks-bench-payloads", "STORAGE_EMULATOR_HOST=127.0.0.1:9"),
			emptySink: bq.Restart},
		{target: "Relay", status: http.StatusOK, scheme: "stripe", key: devKeys["stripe-webhook-secret"],
			delivery: func(i int64) ([]byte, http.Header) {
				id := "evt_cost_" + strconv.FormatInt(i, 10)
				return pad(`{"id":"`+id+`","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":2000,"currency":"usd","metadata":{"pad":"`, `"}}}}`),
					http.Header{"Content-Type": {"application/json"}}
			}},
		{target: "Trigger", status: http.StatusAccepted, delivery: push("trigger-"), scheme: "github", key: githubKey,
			env: []string{"PUBSUB_EMULATOR_HOST=" + psHost, "GOOGLE_CLOUD_PROJECT=", "TRIGGER_JOBS_TOPIC=" + jobs, "TRIGGER_DEAD_LETTER_TOPIC=" + jobs + "-dead"}},
	}
}

// startSubject starts bin as Cloud Run starts an instance of s, waits for
// it to listen and warms it (secrets read, clients made, streams and
// connections open) with 200 deliveries at concurrency 80. The process
// stops with the benchmark.
func startSubject(b *testing.B, s costSubject, bin string) (*testenv.Process, *loader) {
	b.Helper()
	port := testenv.FreePort(b)
	env, _ := instanceEnv(b, s.target, port)
	if s.target == bareTarget {
		env = append(env, "BARE_KEY="+s.key)
	}
	proc, err := testenv.Start(b, append(env, s.env...), bin)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(proc.Stop)
	ctx := context.Background()
	if err := testenv.WaitTCP(ctx, testenv.Addr(port), 30*time.Second); err != nil {
		b.Fatalf("%s did not listen: %v\n%s", s.target, err, proc.Output())
	}
	l := &loader{s: s, url: "http://" + testenv.Addr(port), client: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 100}, Timeout: 30 * time.Second}}
	b.Cleanup(l.client.CloseIdleConnections)
	if err := l.run(ctx, 200, 80); err != nil {
		b.Fatalf("warm-up: %v\n%s", err, tail(proc.Output()))
	}
	return proc, l
}

// loader sends a subject's deliveries, signed, each with a new id.
type loader struct {
	s      costSubject
	url    string
	client *http.Client
	seq    atomic.Int64
	busy   atomic.Int64 // nanoseconds spent in requests since reset
}

// run sends n deliveries from c concurrent senders; every answer must be
// the subject's status.
func (l *loader) run(ctx context.Context, n, c int) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range c {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := l.one(ctx); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d senders failed, first: %w", len(errs), c, errs[0])
	}
	return nil
}

func (l *loader) one(ctx context.Context) error {
	body, header := l.s.delivery(l.seq.Add(1))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url+"/"+sourceOf(l.s), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = header
	if err := verify.Sign(verify.Config{Scheme: l.s.scheme}, []byte(l.s.key), time.Now(), req, body); err != nil {
		return err
	}
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	l.busy.Add(int64(time.Since(start)))
	if err != nil || resp.StatusCode != l.s.status {
		return fmt.Errorf("%s: %d %s (%v), want %d", l.s.target, resp.StatusCode, answer, err, l.s.status)
	}
	return nil
}

// sourceOf is the path segment of the subject's source.
func sourceOf(s costSubject) string {
	if s.scheme == "stripe" {
		return "stripe"
	}
	return "github"
}

// cpuTime reads the user and system time of every thread of pid so far
// (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s: the
// kernel's USER_HZ on Linux).
func cpuTime(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		tb.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			tb.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// tail is the end of a process's output, for a failure message.
func tail(out string) string {
	if len(out) > 4000 {
		return "…" + out[len(out)-4000:]
	}
	return out
}

// costBinary returns the binary serving target: bareTarget built from
// bareSource, an entry point from WEBHOOKS_BENCH_BIN when BenchmarkColdStart
// left it there, else built from its deploy archive as the buildpack does.
func costBinary(b *testing.B, target string) string {
	b.Helper()
	if target == bareTarget {
		dir := bareSource(b)
		bin := filepath.Join(dir, "bare")
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("build the bare handler: %v\n%s", err, out)
		}
		return bin
	}
	if dir := os.Getenv("WEBHOOKS_BENCH_BIN"); dir != "" && fileExists(filepath.Join(dir, target)) {
		return filepath.Join(dir, target)
	}
	archives := deployArchives(b)
	return buildLikeTheBuildpack(b, buildConfigs[0], buildEnvironment(b, archives, target), filepath.Join(archives, target+".zip"), target, false).bin
}

// bareSource writes the baseline: the least a webhook handler can do
// (shared/pipeline's BenchmarkOverhead calls it bare-hmac) as its own
// program, so that its process CPU is comparable with the functions'.
func bareSource(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/bare\n\ngo 1.24\n",
		"main.go": `// Command bare reads a webhook's body, checks GitHub's HMAC over it
// with BARE_KEY and answers 200: the least a webhook handler can do.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
)

func main() {
	key := []byte(os.Getenv("BARE_KEY"))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<20))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		m := hmac.New(sha256.New, key)
		m.Write(body)
		sig, _ := hex.DecodeString(strings.TrimPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256="))
		if !hmac.Equal(m.Sum(nil), sig) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	log.Fatal(http.ListenAndServe(":"+os.Getenv("PORT"), nil))
}
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// createTopics creates the jobs topic Trigger publishes to (and its
// dead-letter topic) in the Pub/Sub emulator and returns the jobs topic's
// id. Without subscriptions the emulator keeps no message.
func createTopics(tb testing.TB, project, host string) string {
	tb.Helper()
	tb.Setenv("PUBSUB_EMULATOR_HOST", host)
	c, err := pubsub.NewClient(context.Background(), project)
	if err != nil {
		tb.Fatalf("pubsub.NewClient: %v", err)
	}
	defer c.Close()
	id := fmt.Sprintf("cost-jobs-%d", time.Now().UnixNano())
	for _, t := range []string{id, id + "-dead"} {
		if _, err := c.TopicAdminClient.CreateTopic(context.Background(),
			&pubsubpb.Topic{Name: "projects/" + project + "/topics/" + t}); err != nil {
			tb.Fatalf("create topic %s: %v", t, err)
		}
	}
	return id
}
