package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// A refused request's log line says which function and source it reached
// and which check refused it, with what a developer needs to act (the
// header, how far the timestamp was off, how many keys were tried), and
// never the signature, the secret or the payload.
func TestARefusedRequestLogsTheCheckThatRefusedIt(t *testing.T) {
	const (
		stripeKey = "whsec_log-test-key-0123456789"
		payload   = `{"id":"evt_1","type":"payment_intent.succeeded","marker":"PAYLOAD-MARKER"}`
	)
	now := time.Unix(1_700_000_000, 0)
	fn := &config.Function{Sources: []config.Source{
		githubSource,
		{Name: "stripe", Verify: verify.Config{Scheme: "stripe", Secret: "env:STRIPE"}},
		{Name: "allow", Verify: verify.Config{Scheme: "none", AllowCIDRs: []string{"198.51.100.0/24"}}}, // httptest clients are 192.0.2.1
	}}
	var logs bytes.Buffer
	h, err := New(context.Background(), fn, memSecrets{"env:GITHUB": githubKey, "env:STRIPE": stripeKey},
		func(context.Context, config.Source) (pattern.Pattern, error) { return &recorder{}, nil },
		Options{Function: "Store", Logger: logging.New(&logs, slog.LevelInfo), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	stripe := func(at time.Time, key string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/stripe", strings.NewReader(payload))
		if err := verify.Sign(verify.Config{Scheme: "stripe"}, []byte(key), at, r, []byte(payload)); err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name                string
		req                 func() *http.Request
		source, check, want string
	}{
		{"no signature header", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/github", strings.NewReader(payload))
		}, "github", "missing_header", "missing header: X-Hub-Signature-256"},
		{"a header that is not a signature", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/github", strings.NewReader(payload))
			r.Header.Set("X-Hub-Signature-256", "sha1=abc")
			return r
		}, "github", "malformed_header", `X-Hub-Signature-256 does not start with "sha256="`},
		{"a signature under another key", func() *http.Request {
			return stripe(now, "whsec_someone-else-0123456789")
		}, "stripe", "signature", "no key of 1 matched"},
		{"a stale timestamp", func() *http.Request {
			return stripe(now.Add(-7*time.Minute), stripeKey)
		}, "stripe", "timestamp_tolerance", "signed 7m0s ago, tolerance 5m0s"},
		{"no source at the path", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/github/github", strings.NewReader(payload))
		}, "", "source", "unknown source"},
		{"an address outside the allowlist", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/allow", strings.NewReader(payload))
		}, "allow", "allow_cidrs", "client address not allowed"},
		{"a body over the limit names the limit", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/github", strings.NewReader(payload))
			r.ContentLength = DefaultMaxBodyBytes + 1
			return r
		}, "github", "body_limit", fmt.Sprintf("body over MAX_BODY_BYTES=%d", DefaultMaxBodyBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := tt.req()
			sig := r.Header.Get("X-Hub-Signature-256") + r.Header.Get("Stripe-Signature")
			h.ServeHTTP(httptest.NewRecorder(), r)
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			if line["function"] != "Store" || line["source"] != tt.source || line["refused_by"] != tt.check {
				t.Errorf("log line %s: want function Store, source %s, refused_by %s", logs.String(), tt.source, tt.check)
			}
			if tt.source == "" && line["path"] != r.URL.Path {
				t.Errorf("log line %s: want the path of a request no source serves", logs.String())
			}
			if msg, _ := line["error"].(string); !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
			for _, secret := range []string{githubKey, stripeKey, "PAYLOAD-MARKER"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("log line holds %q: %s", secret, logs.String())
				}
			}
			if _, v1, ok := strings.Cut(sig, "v1="); ok && strings.Contains(logs.String(), v1) {
				t.Errorf("log line holds the signature: %s", logs.String())
			}
		})
	}
}

// In local mode (WEBHOOKS_SECRETS_DIR set) a request refused by its key
// names the file that key was read from, .local/secrets/NAME for
// sm:NAME: what a developer whose `stripe listen` session is refused has
// to check. Never the key itself; no file for a refusal that read no key,
// for a secret that is no Secret Manager reference, or when deployed.
func TestALocalRefusalNamesTheKeyFileItChecked(t *testing.T) {
	const (
		stripeKey = "whsec_local-file-key-0123456789"
		tokenKey  = "handshake-token-0123456789"
		payload   = `{"id":"evt_1","type":"payment_intent.succeeded"}`
	)
	dir := filepath.Join(t.TempDir(), ".local", "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{"stripe-webhook-secret": stripeKey, "okta-hook-secret": tokenKey,
		"meta-app-secret": "meta-app-secret-0123456789", "meta-verify-token": tokenKey} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("STRIPE_ENV", stripeKey)
	now := time.Unix(1_700_000_000, 0)
	fn := &config.Function{Sources: []config.Source{
		{Name: "stripe", Verify: verify.Config{Scheme: "stripe", Secret: "sm:stripe-webhook-secret"}},
		{Name: "fromenv", Verify: verify.Config{Scheme: "stripe", Secret: "env:STRIPE_ENV"}},
		{Name: "okta", Verify: verify.Config{Scheme: "okta", Secret: "sm:okta-hook-secret", Handshakes: []string{"okta"}}},
		{Name: "meta", Verify: verify.Config{Scheme: "github", Secret: "sm:meta-app-secret", Handshakes: []string{"meta"}, HandshakeSecret: "sm:meta-verify-token"}},
	}}
	resolver := secrets.NewResolver(secrets.Options{LocalDir: dir})
	t.Cleanup(func() { resolver.Close() })
	handler := func(secretsDir string) (*Handler, *bytes.Buffer) {
		var logs bytes.Buffer
		h, err := New(context.Background(), fn, resolver,
			func(context.Context, config.Source) (pattern.Pattern, error) { return &recorder{}, nil },
			Options{Logger: logging.New(&logs, slog.LevelInfo), Now: func() time.Time { return now }, SecretsDir: secretsDir})
		if err != nil {
			t.Fatal(err)
		}
		return h, &logs
	}
	signed := func(path, key string) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(payload))
			if err := verify.Sign(verify.Config{Scheme: "stripe"}, []byte(key), now, r, []byte(payload)); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	tests := []struct {
		name, secretsDir string
		req              func() *http.Request
		check, keyFile   string
	}{
		{"a signature under another key", dir, signed("/stripe", "whsec_someone-else-0123456789"),
			"signature", filepath.Join(dir, "stripe-webhook-secret")},
		{"a handshake with another token", dir, func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/meta?hub.mode=subscribe&hub.verify_token=someone-else&hub.challenge=1", nil)
		}, "handshake", filepath.Join(dir, "meta-verify-token")},
		{"a verification request with another token", dir, func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/okta", nil)
			r.Header.Set("Authorization", "someone-else's-token")
			r.Header.Set("X-Okta-Verification-Challenge", "challenge")
			return r
		}, "signature", filepath.Join(dir, "okta-hook-secret")},
		{"no signature: no key read", dir, func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/stripe", strings.NewReader(payload))
		}, "missing_header", ""},
		{"a secret from the environment", dir, signed("/fromenv", "whsec_someone-else-0123456789"), "signature", ""},
		{"deployed: no local folder", "", signed("/stripe", "whsec_someone-else-0123456789"), "signature", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := handler(tt.secretsDir)
			h.ServeHTTP(httptest.NewRecorder(), tt.req())
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			if line["refused_by"] != tt.check {
				t.Errorf("refused_by = %v, want %s: %s", line["refused_by"], tt.check, logs.String())
			}
			if got, _ := line["key_file"].(string); got != tt.keyFile {
				t.Errorf("key_file = %q, want %q: %s", got, tt.keyFile, logs.String())
			}
			for _, secret := range []string{stripeKey, tokenKey} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("log line holds the key: %s", logs.String())
				}
			}
		})
	}
}
