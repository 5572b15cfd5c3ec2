package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/secrets/secretstest"
	"github.com/cloudhooks/webhooks/shared/verify"
)

const githubKey = "It's a Secret to Everybody"

// memSecrets is an in-memory secret source; unavailable refs fail.
type memSecrets map[string]string

func (m memSecrets) Secret(_ context.Context, ref string) ([]byte, error) {
	v, ok := m[ref]
	if !ok {
		return nil, errors.New("secret not found")
	}
	return []byte(v), nil
}

// recorder is a pattern that records what reached it and answers as told.
type recorder struct {
	mu     sync.Mutex
	events []*event.Event
	out    pattern.Outcome
	err    error
}

func (p *recorder) Handle(_ context.Context, ev *event.Event) (pattern.Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return pattern.Outcome{}, p.err
	}
	p.events = append(p.events, ev)
	return p.out, nil
}

type fixture struct {
	h    *Handler
	p    *recorder
	logs *bytes.Buffer
	now  time.Time
}

func newFixture(t *testing.T, fn *config.Function) *fixture {
	t.Helper()
	f := &fixture{p: &recorder{out: pattern.Outcome{Result: "stored"}}, logs: &bytes.Buffer{}, now: time.Unix(1_700_000_000, 0)}
	secrets := memSecrets{"env:GITHUB": githubKey, "env:STRIPE": "whsec_test_0123456789abcdef"}
	h, err := New(context.Background(), fn, secrets, func(context.Context, config.Source) (pattern.Pattern, error) { return f.p, nil },
		Options{MaxBodyBytes: 1 << 10, Logger: logging.New(f.logs, slog.LevelDebug), Now: func() time.Time { return f.now }, Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

var githubSource = config.Source{Name: "github", Verify: verify.Config{Scheme: "github", Secret: "env:GITHUB"}}

// signed returns a request to path signed as GitHub would sign it.
func signed(t *testing.T, path, contentType, body string, header http.Header) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("X-GitHub-Event", "push")
	r.Header.Set("X-GitHub-Delivery", "d-1")
	for k, v := range header {
		r.Header[k] = v
	}
	if err := verify.Sign(githubSource.Verify, []byte(githubKey), time.Unix(1_700_000_000, 0), r, []byte(body)); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestServeHTTPAnswersByTheStatusContract(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", 2000) + `"}`
	tests := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		patternErr error
		wantStatus int
		wantEvents int
		wantHeader map[string]string
	}{
		{"signed JSON is handled", func(t *testing.T) *http.Request {
			return signed(t, "/github", "application/json", `{"ref":"main"}`, nil)
		}, nil, 200, 1, nil},
		{"unknown source is 404", func(t *testing.T) *http.Request {
			return signed(t, "/gitlab", "application/json", `{}`, nil)
		}, nil, 404, 0, nil},
		{"GET is 405 with Allow", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/github", nil)
		}, nil, 405, 0, map[string]string{"Allow": "POST"}},
		{"oversized body is 413", func(t *testing.T) *http.Request {
			return signed(t, "/github", "application/json", big, nil)
		}, nil, 413, 0, nil},
		{"oversized body without length is 413", func(t *testing.T) *http.Request {
			r := signed(t, "/github", "application/json", big, nil)
			r.ContentLength = -1
			return r
		}, nil, 413, 0, nil},
		{"missing signature is 401", func(t *testing.T) *http.Request {
			r := signed(t, "/github", "application/json", `{}`, nil)
			r.Header.Del("X-Hub-Signature-256")
			return r
		}, nil, 401, 0, nil},
		{"tampered body is 401", func(t *testing.T) *http.Request {
			r := signed(t, "/github", "application/json", `{"a":1}`, nil)
			r.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
			return r
		}, nil, 401, 0, nil},
		{"malformed JSON is 400", func(t *testing.T) *http.Request {
			return signed(t, "/github", "application/json", `{"a":`, nil)
		}, nil, 400, 0, nil},
		{"wrong content type is 415", func(t *testing.T) *http.Request {
			return signed(t, "/github", "text/xml", `<a/>`, nil)
		}, nil, 415, 0, nil},
		{"form body becomes a JSON payload", func(t *testing.T) *http.Request {
			return signed(t, "/github", "application/x-www-form-urlencoded", `payload=%7B%7D&a=1&a=2`, nil)
		}, nil, 200, 1, nil},
		{"retryable pattern failure is 503 with Retry-After", func(t *testing.T) *http.Request {
			return signed(t, "/github", "application/json", `{}`, nil)
		}, pattern.Retryable(errors.New("bigquery down"), 7*time.Second), 503, 0, map[string]string{"Retry-After": "7"}},
		{"unclassified pattern failure is 503", func(t *testing.T) *http.Request {
			return signed(t, "/github", "application/json", `{}`, nil)
		}, errors.New("boom"), 503, 0, map[string]string{"Retry-After": "30"}},
		{"unprocessable event is 422", func(t *testing.T) *http.Request {
			return signed(t, "/github", "application/json", `{}`, nil)
		}, pattern.Unprocessable(errors.New("template")), 422, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &config.Function{Sources: []config.Source{githubSource}})
			f.p.err = tt.patternErr
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, tt.req(t))
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", w.Code, tt.wantStatus, w.Body)
			}
			if len(f.p.events) != tt.wantEvents {
				t.Errorf("pattern saw %d events, want %d", len(f.p.events), tt.wantEvents)
			}
			for k, v := range tt.wantHeader {
				if got := w.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			var line map[string]any
			if err := json.Unmarshal(f.logs.Bytes(), &line); err != nil {
				t.Fatalf("want exactly one JSON log line, got %q", f.logs)
			}
			if line["status"] != float64(tt.wantStatus) || line["message"] != "webhook request" {
				t.Errorf("log line %v does not report status %d", line, tt.wantStatus)
			}
		})
	}
}

func TestEnvelopeCarriesIdentityAndOnlySafeHeaders(t *testing.T) {
	f := newFixture(t, &config.Function{Sources: []config.Source{githubSource}})
	r := signed(t, "/github", "application/json", `{"version":"2"}`, http.Header{
		"Authorization": {"Bearer x"}, "User-Agent": {"GitHub-Hookshot/1"}, "X-Forwarded-For": {"1.2.3.4"},
		"X-Api-Key": {"k"}, "X-Webhook-TOKEN": {"t"}, "Idempotency-Key": {"i-1"}, "Accept": {"a/b", "c/d"},
		"X-Goog-Iap-Jwt-Assertion": {"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"}, "Cookie": {"session=s"},
	})
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != 200 || len(f.p.events) != 1 {
		t.Fatalf("status %d, %d events", w.Code, len(f.p.events))
	}
	ev := f.p.events[0]
	if ev.Source != "github" || ev.ID != "d-1" || ev.Type != "push" || ev.SchemaVersion != "2" || !ev.ReceivedAt.Equal(f.now) {
		t.Errorf("envelope = %+v", ev)
	}
	for name := range ev.Headers {
		lower := strings.ToLower(name)
		if strings.Contains(lower, "signature") || lower == "authorization" || strings.HasPrefix(lower, "x-forwarded") ||
			lower == "x-api-key" || lower == "x-webhook-token" || lower == "x-goog-iap-jwt-assertion" || lower == "cookie" {
			t.Errorf("kept header %s", name)
		}
	}
	if ev.Headers["User-Agent"] != "GitHub-Hookshot/1" || ev.Headers["X-Github-Delivery"] != "d-1" ||
		ev.Headers["Idempotency-Key"] != "i-1" || ev.Headers["Accept"] != "a/b, c/d" {
		t.Errorf("dropped a useful header: %v", ev.Headers)
	}
}

func TestEventWithoutProviderIDGetsAContentHash(t *testing.T) {
	f := newFixture(t, &config.Function{Sources: []config.Source{githubSource}})
	for range 2 {
		r := signed(t, "/github", "application/json", `{"a":1}`, nil)
		r.Header.Del("X-GitHub-Delivery")
		f.h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if len(f.p.events) != 2 || !strings.HasPrefix(f.p.events[0].ID, "sha256:") || f.p.events[0].ID != f.p.events[1].ID {
		t.Fatalf("ids of one body twice: %q, %q", f.p.events[0].ID, f.p.events[1].ID)
	}
}

// A secret Secret Manager cannot serve (an outage, or a grant not made
// yet) is 503 with Retry-After, never 401: the provider retries, and the
// retry succeeds once the secret is readable.
func TestUnreadableSecretIs503NotUnauthorized(t *testing.T) {
	const key = "whsec_unreadable_test_0123"
	src := config.Source{Name: "stripe", Verify: verify.Config{Scheme: "stripe", Secret: "sm:stripe-webhook-secret"}}
	body := `{"id":"evt_1","type":"charge.succeeded"}`
	for _, code := range []codes.Code{codes.Unavailable, codes.PermissionDenied, codes.NotFound} {
		t.Run(code.String(), func(t *testing.T) {
			sm := secretstest.Start(t)
			sm.Add("p", "stripe-webhook-secret", []byte(key))
			resolver := secrets.NewResolver(secrets.Options{Project: "p", Client: sm.Client(t)})
			p := &recorder{}
			h, err := New(context.Background(), &config.Function{Sources: []config.Source{src}}, resolver,
				func(context.Context, config.Source) (pattern.Pattern, error) { return p, nil }, Options{Logger: logging.New(io.Discard, slog.LevelError)})
			if err != nil {
				t.Fatal(err)
			}
			deliver := func() *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodPost, "/stripe", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				if err := verify.Sign(src.Verify, []byte(key), time.Now(), r, []byte(body)); err != nil {
					t.Fatal(err)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			sm.Fail(code)
			if w := deliver(); w.Code != 503 || w.Header().Get("Retry-After") == "" || strings.Contains(w.Body.String(), key) {
				t.Fatalf("while Secret Manager fails: status %d, Retry-After %q, body %s; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
			}
			sm.Heal()
			if w := deliver(); w.Code != 200 || len(p.events) != 1 {
				t.Fatalf("once healed: status %d, %d events; want 200 and the event", w.Code, len(p.events))
			}
		})
	}
}

// During a Secret Manager outage (calls hang), a warm instance answers
// from its cached key without waiting, even past the cache's TTL, and a
// cold one answers 503 within the secrets bound, before REQUEST_DEADLINE.
func TestSecretManagerOutageWarmInstanceAnswersColdOneGets503InTime(t *testing.T) {
	const key = "whsec_outage_test_0123456"
	src := config.Source{Name: "stripe", Verify: verify.Config{Scheme: "stripe", Secret: "sm:stripe-webhook-secret"}}
	body := `{"id":"evt_1","type":"charge.succeeded"}`
	tests := []struct {
		name string
		warm bool
		// timeout is the resolver's fetch bound: an hour for the warm
		// instance, so that one that waited would still be waiting when
		// the guard fires; the default (2s) for the cold one.
		timeout time.Duration
		status  int
	}{
		{"warm, past the TTL", true, time.Hour, 200},
		{"cold", false, 0, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := secretstest.Start(t)
			sm.Add("p", "stripe-webhook-secret", []byte(key))
			var (
				mu  sync.Mutex
				now = time.Now()
			)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			resolver := secrets.NewResolver(secrets.Options{Project: "p", ClientOptions: sm.ClientOptions(),
				TTL: time.Minute, Timeout: tt.timeout, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			t.Cleanup(func() { resolver.Close() })
			p := &recorder{}
			h, err := New(context.Background(), &config.Function{Sources: []config.Source{src}}, resolver,
				func(context.Context, config.Source) (pattern.Pattern, error) { return p, nil }, Options{Logger: logging.New(io.Discard, slog.LevelError)})
			if err != nil {
				t.Fatal(err)
			}
			deliver := func() <-chan *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodPost, "/stripe", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				if err := verify.Sign(src.Verify, []byte(key), time.Now(), r, []byte(body)); err != nil {
					t.Fatal(err)
				}
				ch := make(chan *httptest.ResponseRecorder, 1)
				go func() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					ch <- w
				}()
				return ch
			}
			if tt.warm {
				if w := <-deliver(); w.Code != 200 {
					t.Fatalf("before the outage: status %d", w.Code)
				}
				mu.Lock()
				now = now.Add(2 * time.Minute)
				mu.Unlock()
			}
			t.Cleanup(sm.Hang())
			// 6s: loose for a loaded machine, and under REQUEST_DEADLINE
			// (8s), past which the provider's own 10s timeout is near.
			select {
			case w := <-deliver():
				if w.Code != tt.status {
					t.Fatalf("during the outage: status %d, want %d", w.Code, tt.status)
				}
				if w.Code == 503 && w.Header().Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			case <-time.After(6 * time.Second):
				t.Fatal("the request waited on Secret Manager")
			}
		})
	}
}

func TestGitHubPingIsAcknowledgedWithoutThePattern(t *testing.T) {
	f := newFixture(t, &config.Function{Sources: []config.Source{githubSource}})
	r := signed(t, "/github", "application/json", `{"zen":"Design for failure."}`, http.Header{"X-Github-Event": {"ping"}})
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != 200 || len(f.p.events) != 0 {
		t.Fatalf("ping: status %d, %d events reached the pattern", w.Code, len(f.p.events))
	}
}

func TestNewFailsClosedNamingTheSourceAndField(t *testing.T) {
	tests := []struct {
		name   string
		verify verify.Config
		want   string
	}{
		{"unknown scheme", verify.Config{Scheme: "nope", Secret: "env:X"}, "scheme"},
		{"bad range", verify.Config{Scheme: "github", Secret: "env:X", AllowCIDRs: []string{"10.0.0.0/33"}}, "verify.allow_cidrs"},
		{"trusted proxies without a range", verify.Config{Scheme: "github", Secret: "env:X", TrustedProxies: 2}, "verify.trusted_proxies"},
		{"negative trusted proxies", verify.Config{Scheme: "github", Secret: "env:X", AllowCIDRs: []string{"10.0.0.0/8"}, TrustedProxies: -1}, "verify.trusted_proxies"},
		{"unknown handshake", verify.Config{Scheme: "github", Secret: "env:X", Handshakes: []string{"nope"}}, "verify.handshakes"},
		{"crc with a scheme other than X's", verify.Config{Scheme: "github", Secret: "env:X", Handshakes: []string{"crc"}, AllowCIDRs: []string{"192.0.2.0/24"}}, "verify.handshakes"},
		{"crc without an address allowlist", verify.Config{Scheme: "twitter", Secret: "env:X", Handshakes: []string{"crc"}}, "verify.allow_cidrs"},
		{"crc keyed with another secret", verify.Config{Scheme: "twitter", Secret: "env:X", HandshakeSecret: "env:Y", Handshakes: []string{"crc"}, AllowCIDRs: []string{"192.0.2.0/24"}}, "verify.handshake_secret"},
		{"zoom handshake with a scheme other than Zoom's", verify.Config{Scheme: "none", Secret: "env:X", Handshakes: []string{"zoom"}}, "verify.handshakes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := &config.Function{Sources: []config.Source{{Name: "bad", Verify: tt.verify}}}
			_, err := New(context.Background(), fn, memSecrets{}, func(context.Context, config.Source) (pattern.Pattern, error) { return &recorder{}, nil }, Options{})
			if err == nil || !strings.Contains(err.Error(), `"bad"`) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error naming source \"bad\" and %s", err, tt.want)
			}
		})
	}
}

func TestPanicInPatternIs500AndLogged(t *testing.T) {
	f := newFixture(t, &config.Function{Sources: []config.Source{githubSource}})
	f.h.sources["github"].pattern = pattern.Func(func(context.Context, *event.Event) (pattern.Outcome, error) { panic("bug") })
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, signed(t, "/github", "application/json", `{}`, nil))
	if w.Code != 500 || !strings.Contains(f.logs.String(), "panic") {
		t.Fatalf("status %d, logs %s", w.Code, f.logs)
	}
}

// Handshakes listed in a source are answered by the pipeline: unsigned
// ones before verification, signed ones only once the signature checked
// out, and none of them reaches the pattern.
func TestHandshakesAreAnsweredAtTheirPlaceInThePipeline(t *testing.T) {
	meta := config.Source{Name: "meta", Verify: verify.Config{Scheme: "github", Secret: "env:GITHUB", Handshakes: []string{"meta"}}}
	slack := config.Source{Name: "slack", Verify: verify.Config{Scheme: "slack", Secret: "env:GITHUB", Handshakes: []string{"slack"}}}
	x := config.Source{Name: "x", Verify: verify.Config{Scheme: "twitter", Secret: "env:GITHUB", Handshakes: []string{"crc"}, AllowCIDRs: []string{"192.0.2.0/24"}}}
	const crcToken = "M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0"
	crc := func(from string) func(*testing.T) *http.Request {
		return func(*testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/x?crc_token="+crcToken, nil)
			r.Header.Set("X-Forwarded-For", from)
			return r
		}
	}
	m := hmac.New(sha256.New, []byte(githubKey))
	m.Write([]byte(crcToken))
	crcReply := `{"response_token":"sha256=` + base64.StdEncoding.EncodeToString(m.Sum(nil)) + `"}`
	slackBody := `{"type":"url_verification","token":"x","challenge":"c-123"}`
	signedSlack := func(t *testing.T) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/slack", strings.NewReader(slackBody))
		r.Header.Set("Content-Type", "application/json")
		if err := verify.Sign(slack.Verify, []byte(githubKey), time.Unix(1_700_000_000, 0), r, []byte(slackBody)); err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		wantStatus int
		wantBody   string
	}{
		{"meta GET with the right token echoes the challenge", func(*testing.T) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/meta?hub.mode=subscribe&hub.verify_token="+strings.ReplaceAll(githubKey, " ", "+")+"&hub.challenge=42", nil)
		}, 200, "42"},
		{"meta GET with a wrong token is 403", func(*testing.T) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=42", nil)
		}, 403, ""},
		{"GET without handshake parameters is 405", func(*testing.T) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/meta", nil)
		}, 405, ""},
		{"signed slack url_verification echoes the challenge", signedSlack, 200, "c-123"},
		{"crc GET from X's addresses is answered with the HMAC of its token", crc(crcClient), 200, crcReply},
		{"crc GET from any other address is 403", crc("203.0.113.9"), 403, ""},
		{"unsigned slack url_verification is 401", func(t *testing.T) *http.Request {
			r := signedSlack(t)
			r.Header.Del("X-Slack-Signature")
			return r
		}, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &config.Function{Sources: []config.Source{meta, slack, x}})
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, tt.req(t))
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("status %d body %q, want %d containing %q", w.Code, w.Body, tt.wantStatus, tt.wantBody)
			}
			if len(f.p.events) != 0 {
				t.Errorf("a handshake reached the pattern")
			}
		})
	}
}

// allow_cidrs trusts the last X-Forwarded-For entry (the one Cloud Run's
// front end appends) and refuses other clients before reading the body.
func TestAllowCIDRsRefusesOtherClientsWith403(t *testing.T) {
	tests := []struct {
		name    string
		proxies int // verify.trusted_proxies
		xff     string
		want    int
	}{
		{"client inside the range", 0, "192.30.252.10", 200},
		{"client outside the range", 0, "203.0.113.9", 403},
		{"forged first entry is ignored", 0, "192.30.252.10, 203.0.113.9", 403},
		{"behind a load balancer the client is second from the end", 2, "198.51.100.1, 192.30.252.10, 34.1.2.3", 200},
		{"behind a load balancer the balancer's own address is not the client", 2, "192.30.252.10, 203.0.113.9, 34.1.2.3", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := githubSource
			src.Verify.AllowCIDRs = []string{"192.30.252.0/22"}
			src.Verify.TrustedProxies = tt.proxies
			f := newFixture(t, &config.Function{Sources: []config.Source{src}})
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, signed(t, "/github", "application/json", `{}`, http.Header{"X-Forwarded-For": {tt.xff}}))
			if w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
		})
	}
}

// Stripe sends no delivery header: the event id and type come from the
// payload's top-level "id" and "type", the id the provider's retries share.
func TestStripeEventIdentityComesFromThePayload(t *testing.T) {
	src := config.Source{Name: "stripe", Verify: verify.Config{Scheme: "stripe", Secret: "env:STRIPE"}}
	f := newFixture(t, &config.Function{Sources: []config.Source{src}})
	body := `{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{}}}`
	r := httptest.NewRequest(http.MethodPost, "/stripe", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	if err := verify.Sign(src.Verify, []byte("whsec_test_0123456789abcdef"), f.now, r, []byte(body)); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != 200 || len(f.p.events) != 1 {
		t.Fatalf("status %d (%s), %d events", w.Code, w.Body, len(f.p.events))
	}
	if ev := f.p.events[0]; ev.ID != "evt_1" || ev.Type != "payment_intent.succeeded" {
		t.Errorf("id %q type %q", ev.ID, ev.Type)
	}
}

// The request's log line carries what an operator filters on, with trace
// correlation, and never the payload or the signature.
func TestLogLineHasTheRequestFieldsAndNoSecrets(t *testing.T) {
	f := newFixture(t, &config.Function{Sources: []config.Source{githubSource}})
	r := signed(t, "/github", "application/json", `{"password":"hunter2"}`, http.Header{
		"X-Cloud-Trace-Context": {"105445aa7843bc8bf206b12000100000/1;o=1"},
	})
	sig := r.Header.Get("X-Hub-Signature-256")
	f.h.ServeHTTP(httptest.NewRecorder(), r)
	var line map[string]any
	if err := json.Unmarshal(f.logs.Bytes(), &line); err != nil {
		t.Fatalf("log is not one JSON line: %q", f.logs)
	}
	want := map[string]any{"severity": "INFO", "source": "github", "event_id": "d-1", "event_type": "push", "status": float64(200), "outcome": "stored",
		"logging.googleapis.com/trace": "projects/p/traces/105445aa7843bc8bf206b12000100000"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["latency_ms"]; !ok {
		t.Error("log lacks latency_ms")
	}
	if s := f.logs.String(); strings.Contains(s, "hunter2") || strings.Contains(s, sig) || strings.Contains(s, githubKey) {
		t.Errorf("log holds payload or secret material: %s", s)
	}
}

// Ids and types taken from the payload keep their exact text: a 64-bit
// numeric id is not rounded through a float, and objects or booleans are
// not ids.
func TestPayloadFieldsBecomeIdsVerbatim(t *testing.T) {
	tests := []struct {
		raw  string
		want string
	}{
		{`"evt_1"`, "evt_1"},
		{`"caf\u00e9"`, "café"},
		{`9007199254740993`, "9007199254740993"},
		{`-12`, "-12"},
		{`{"type":"message"}`, ""},
		{`true`, ""},
		{`null`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := scalar(json.RawMessage(tt.raw)); got != tt.want {
			t.Errorf("scalar(%s) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// A signed body that encoding/json reads differently from its bytes is
// refused with 400 before any function sees it: the bytes are what Store
// writes, the decoded value what Relay and Trigger act on, and the two
// must not differ.
func TestBodiesWithTwoReadingsAreRefused(t *testing.T) {
	tests := []struct {
		name, body string
		want       int
	}{
		{"duplicate names", `{"ref":"refs/heads/main","ref":"refs/heads/evil"}`, 400},
		{"duplicate names in a nested object", `{"pusher":{"name":"a","name":"b"}}`, 400},
		{"duplicate names, one written with escapes", `{"ref":"a","\u0072ef":"b"}`, 400},
		{"invalid UTF-8 in a string", "{\"ref\":\"refs/heads/ma\xffin\"}", 400},
		{"unpaired surrogate escape", `{"ref":"\ud800"}`, 400},
		{"the same names in different objects are fine", `{"a":{"ref":1},"b":{"ref":2},"ref":"\ud83d\ude00"}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &config.Function{Sources: []config.Source{githubSource}})
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, signed(t, "/github", "application/json", tt.body, nil))
			if w.Code != tt.want {
				t.Fatalf("status %d (%s), want %d", w.Code, w.Body, tt.want)
			}
			if wantEvents := map[bool]int{true: 1}[tt.want == 200]; len(f.p.events) != wantEvents {
				t.Errorf("pattern saw %d events, want %d", len(f.p.events), wantEvents)
			}
		})
	}
}

// A token read from a payload field proves the request and is then
// removed: the event that functions store and act on holds no secret, and
// its content-hash id is not a hash of the secret.
func TestTokenFieldIsNotKeptInTheEvent(t *testing.T) {
	src := config.Source{Name: "inbody", Verify: verify.Config{Scheme: "token", Secret: "env:GITHUB", Field: "auth.token"}}
	tests := []struct{ name, body, want string }{
		{"nested", `{"auth":{"user":"u","token":"` + githubKey + `"},"a":1}`, `{"auth":{"user":"u"},"a":1}`},
		{"alone in its object", `{"a":1,"auth":{"token":"` + githubKey + `"}}`, `{"a":1,"auth":{}}`},
		{"written with escapes", `{"auth":{"t\u006fken":"It\u0027s a Secret to Everybody"}}`, `{"auth":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &config.Function{Sources: []config.Source{src}})
			r := httptest.NewRequest(http.MethodPost, "/inbody", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, r)
			if w.Code != 200 || len(f.p.events) != 1 {
				t.Fatalf("status %d (%s), %d events", w.Code, w.Body, len(f.p.events))
			}
			ev := f.p.events[0]
			// Failures name what leaked, never print it.
			vars, err := ev.Vars()
			if err != nil {
				t.Fatal(err)
			}
			switch seen, _ := json.Marshal(vars); {
			case strings.Contains(string(ev.Payload), "Secret to Everybody"):
				t.Errorf("the payload keeps the token")
			case strings.Contains(string(seen), "Secret to Everybody"):
				t.Errorf("rules see the token")
			case string(ev.Payload) != tt.want:
				t.Errorf("payload %s, want %s", ev.Payload, tt.want)
			}
			if sum := sha256.Sum256([]byte(tt.body)); ev.ID == "sha256:"+hex.EncodeToString(sum[:]) {
				t.Errorf("the id %s is a hash of the body with the token", ev.ID)
			}
		})
	}
}

// A client announces a 25 MB body in its headers and sends a few bytes:
// the instance must not set aside the announced size before the bytes
// arrive, or a handful of such connections take an instance's memory
// before one signature is checked.
func TestHeaderOnlyRequestAnnouncing25MBAllocatesLittle(t *testing.T) {
	h, err := New(context.Background(), &config.Function{Sources: []config.Source{githubSource}}, memSecrets{"env:GITHUB": githubKey},
		func(context.Context, config.Source) (pattern.Pattern, error) { return &recorder{}, nil },
		Options{Logger: logging.New(io.Discard, slog.LevelError)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	const announced, runs = 25_000_000, 4
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /github HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"a\":", announced)
		_ = conn.(*net.TCPConn).CloseWrite()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		conn.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400 (the body ended early)", resp.StatusCode)
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / runs
	if per > 1<<20 {
		t.Errorf("a request announcing %d bytes and sending 5 allocated %d bytes, want under 1 MiB", announced, per)
	}
	t.Logf("%d bytes allocated per request", per)
}

func TestReadAllReadsExactlyTheAnnouncedBody(t *testing.T) {
	for _, size := range []int{0, 1, maxUpfrontBytes - 1, maxUpfrontBytes, maxUpfrontBytes + 1, 5*maxUpfrontBytes + 7} {
		body := bytes.Repeat([]byte("x"), size)
		got, err := readAll(iotest.HalfReader(bytes.NewReader(body)), int64(size))
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("size %d: read %d bytes, %v", size, len(got), err)
		}
		if size > 0 {
			if _, err := readAll(bytes.NewReader(body[:size-1]), int64(size)); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("size %d, one byte short: %v, want io.ErrUnexpectedEOF", size, err)
			}
		}
	}
}
