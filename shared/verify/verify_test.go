package verify_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// memSecrets is an in-memory secret source: these tests prove the schemes,
// not Secret Manager (package secrets has its own tests against a fake
// Secret Manager server).
type memSecrets map[string]string

func (m memSecrets) Secret(_ context.Context, ref string) ([]byte, error) {
	v, ok := m[ref]
	if !ok {
		return nil, fmt.Errorf("secret %s not found", ref)
	}
	return []byte(v), nil
}

var now = time.Unix(1_700_000_000, 0)

func clock() time.Time { return now }

// schemeCase is one scheme with two keys of its own format.
type schemeCase struct {
	name        string
	cfg         verify.Config
	key, other  string
	body        string
	contentType string
	// sigHeader is the header that carries the signature or token, for the
	// malformed-header case; malformed is a value it cannot parse ("" when
	// any value is a well-formed token).
	sigHeader, malformed string
	bodySigned, timed    bool
	wantID, wantIDField  string
}

const whKey = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var whOther = "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of 32 bytes........."))

var schemeCases = []schemeCase{
	{name: "token header", cfg: verify.Config{Scheme: "token"}, key: "s3cr3t-token", other: "other-token",
		body: `{"a":1}`, sigHeader: "Secret"},
	{name: "token field", cfg: verify.Config{Scheme: "token", Field: "auth.token"}, key: "s3cr3t-token", other: "other-token",
		body: `{"auth":{"token":"%s"}}`},
	{name: "basic", cfg: verify.Config{Scheme: "basic"}, key: "hooks:pa55word", other: "hooks:other",
		body: `{"a":1}`, sigHeader: "Authorization", malformed: "Basic %%%"},
	{name: "hmac sha512 base64 prefixed", cfg: verify.Config{Scheme: "hmac", Header: "X-Signature", Algorithm: "sha512", Encoding: "base64", Prefix: "sha512="},
		key: "k1", other: "k2", body: `{"a":1}`, sigHeader: "X-Signature", malformed: "sha512=@@@", bodySigned: true},
	{name: "hmac sha1 hex", cfg: verify.Config{Scheme: "hmac", Header: "X-Sig", Algorithm: "sha1"},
		key: "k1", other: "k2", body: `{"a":1}`, sigHeader: "X-Sig", malformed: "zz", bodySigned: true},
	{name: "github", cfg: verify.Config{Scheme: "github"}, key: "It's a Secret to Everybody", other: "nope",
		body: `{"zen":"x"}`, sigHeader: "X-Hub-Signature-256", malformed: "sha1=abc", bodySigned: true},
	{name: "gitlab", cfg: verify.Config{Scheme: "gitlab"}, key: "gl-token", other: "gl-other",
		body: `{"object_kind":"push"}`, sigHeader: "X-Gitlab-Token"},
	{name: "stripe", cfg: verify.Config{Scheme: "stripe"}, key: "whsec_test_stripe", other: "whsec_other",
		body: `{"id":"evt_1","type":"payment_intent.succeeded"}`, sigHeader: "Stripe-Signature", malformed: "t=1,v0=00", bodySigned: true, timed: true, wantIDField: "id"},
	{name: "slack", cfg: verify.Config{Scheme: "slack"}, key: "8f742231b10e8888abcd99yyyzzz85a5", other: "nope",
		body: `{"event_id":"Ev1","type":"event_callback"}`, sigHeader: "X-Slack-Signature", malformed: "v1=00", bodySigned: true, timed: true, wantIDField: "event_id"},
	{name: "zoom", cfg: verify.Config{Scheme: "zoom"}, key: "zoom-secret-token", other: "nope",
		body: `{"event":"meeting.started"}`, sigHeader: "X-Zm-Signature", malformed: "v0=xyz", bodySigned: true, timed: true},
	{name: "standardwebhooks", cfg: verify.Config{Scheme: "standardwebhooks"}, key: whKey, other: whOther,
		body: `{"type":"user.created"}`, sigHeader: "Webhook-Signature", malformed: "v2,abc", bodySigned: true, timed: true},
	{name: "svix", cfg: verify.Config{Scheme: "svix"}, key: whKey, other: whOther,
		body: `{"type":"user.created"}`, sigHeader: "Svix-Signature", malformed: "v1,***", bodySigned: true, timed: true},
	{name: "shopify", cfg: verify.Config{Scheme: "shopify"}, key: "shpss_secret", other: "shpss_other",
		body: `{"id":1}`, sigHeader: "X-Shopify-Hmac-Sha256", malformed: "!!", bodySigned: true},
	{name: "logto", cfg: verify.Config{Scheme: "logto"}, key: "logto-key", other: "other",
		body: `{"event":"User.Created"}`, sigHeader: "Logto-Signature-Sha-256", malformed: "xyz", bodySigned: true},
	{name: "twitter", cfg: verify.Config{Scheme: "twitter"}, key: "consumer-secret", other: "old-consumer-secret",
		body: `{"for_user_id":"2244994945","tweet_create_events":[]}`, sigHeader: "X-Twitter-Webhooks-Signature", malformed: "sha256=@@", bodySigned: true},
	{name: "twilio form", cfg: verify.Config{Scheme: "twilio"}, key: "12345", other: "54321",
		body: "CallSid=CA1&From=%2B1555&Digits=1", contentType: "application/x-www-form-urlencoded",
		sigHeader: "X-Twilio-Signature", malformed: "###", bodySigned: true},
	{name: "twilio json", cfg: verify.Config{Scheme: "twilio"}, key: "12345", other: "54321",
		body: `{"a":1}`, sigHeader: "X-Twilio-Signature", malformed: "###", bodySigned: true},
}

// request builds a request signed for c with key at t.
func (c schemeCase) request(t testing.TB, key string, at time.Time) (*http.Request, []byte) {
	t.Helper()
	body := c.body
	if strings.Contains(body, "%s") {
		body = fmt.Sprintf(body, key)
	}
	r := httptest.NewRequest(http.MethodPost, "https://hooks.example.com/source?x=1", strings.NewReader(body))
	ct := c.contentType
	if ct == "" {
		ct = "application/json"
	}
	r.Header.Set("Content-Type", ct)
	if c.cfg.Field == "" {
		if err := verify.Sign(c.cfg, []byte(key), at, r, []byte(body)); err != nil {
			t.Fatalf("Sign: %v", err)
		}
	}
	return r, []byte(body)
}

func newVerifier(t testing.TB, cfg verify.Config, secret string, opts ...verify.Option) *verify.Verifier {
	t.Helper()
	cfg.Secret = "env:KEYS"
	v, err := verify.New("src", cfg, memSecrets{"env:KEYS": secret}, append([]verify.Option{verify.WithClock(clock)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func TestEverySchemeAcceptsItsOwnSignatureAndRefusesForgeries(t *testing.T) {
	for _, c := range schemeCases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			v := newVerifier(t, c.cfg, c.key)
			check := func(name string, r *http.Request, body []byte, want error) {
				t.Helper()
				id, err := v.Verify(ctx, r, body)
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Fatalf("%s: Verify = %v, want %v", name, err, want)
				}
				if err != nil && (strings.Contains(err.Error(), c.key) || strings.Contains(err.Error(), c.other)) {
					t.Fatalf("%s: error text holds a key", name)
				}
				if err == nil && id.IDField != c.wantIDField {
					t.Fatalf("%s: IDField = %q, want %q", name, id.IDField, c.wantIDField)
				}
			}

			r, body := c.request(t, c.key, now)
			check("signed", r, body, nil)

			r, body = c.request(t, c.other, now)
			check("wrong key", r, body, verify.ErrBadSignature)

			if c.bodySigned {
				r, body = c.request(t, c.key, now)
				check("tampered body", r, append(body[:len(body):len(body)], ' '), verify.ErrBadSignature)
			}
			if c.sigHeader != "" {
				r, body = c.request(t, c.key, now)
				r.Header.Del(c.sigHeader)
				check("missing header", r, body, verify.ErrMissingHeader)
			}
			if c.malformed != "" {
				r, body = c.request(t, c.key, now)
				r.Header.Set(c.sigHeader, c.malformed)
				check("malformed header", r, body, verify.ErrMalformedHeader)
			}
			if c.timed {
				r, body = c.request(t, c.key, now.Add(-verify.DefaultTolerance-time.Second))
				check("stale", r, body, verify.ErrTooOld)
				r, body = c.request(t, c.key, now.Add(verify.DefaultTolerance+time.Second))
				check("future", r, body, verify.ErrTooNew)
				r, body = c.request(t, c.key, now.Add(-verify.DefaultTolerance+time.Second))
				check("within tolerance", r, body, nil)
			}

			rotating := newVerifier(t, c.cfg, c.other+"\n\n  "+c.key+"  \n")
			for _, key := range []string{c.key, c.other} {
				r, body = c.request(t, key, now)
				if _, err := rotating.Verify(ctx, r, body); err != nil {
					t.Fatalf("rotation: a request signed with either of two keys must pass: %v", err)
				}
			}
		})
	}
}

// Published examples: the providers' own documentation and reference
// libraries, so that a scheme cannot agree with itself and be wrong.
func TestPublishedExamples(t *testing.T) {
	slackBody := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	tests := []struct {
		name    string
		cfg     verify.Config
		key     string
		url     string
		body    string
		headers map[string]string
		at      time.Time
	}{
		{
			// docs.github.com: "Validating webhook deliveries", test values.
			name: "github docs", cfg: verify.Config{Scheme: "github"}, key: "It's a Secret to Everybody",
			body:    "Hello, World!",
			headers: map[string]string{"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
		},
		{
			// api.slack.com: "Verifying requests from Slack", worked example.
			name: "slack docs", cfg: verify.Config{Scheme: "slack"}, key: "8f742231b10e8888abcd99yyyzzz85a5",
			body: slackBody, at: time.Unix(1531420618, 0),
			headers: map[string]string{
				"Content-Type":              "application/x-www-form-urlencoded",
				"X-Slack-Request-Timestamp": "1531420618",
				"X-Slack-Signature":         "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
			},
		},
		{
			// The Standard Webhooks reference library's signing test.
			name: "standard webhooks reference", cfg: verify.Config{Scheme: "standardwebhooks"}, key: whKey,
			body: `{"test": 2432232314}`, at: time.Unix(1614265330, 0),
			headers: map[string]string{
				"Webhook-Id":        "msg_p5jXN8AQM9LWM0D4loKWxJek",
				"Webhook-Timestamp": "1614265330",
				"Webhook-Signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
			},
		},
		{
			// X's scheme; the signature computed independently with
			// openssl dgst -sha256 -hmac consumer-secret -binary | base64.
			name: "twitter openssl", cfg: verify.Config{Scheme: "twitter"}, key: "consumer-secret",
			body:    `{"for_user_id":"2244994945","tweet_create_events":[]}`,
			headers: map[string]string{"X-Twitter-Webhooks-Signature": "sha256=8ZKMZJQlQBLCsGiw/q1yrNQyXpR6DZy3vh/q8ZeFj7M="},
		},
		{
			// twilio.com/docs/usage/security: the documented example request.
			name: "twilio docs", cfg: verify.Config{Scheme: "twilio"}, key: "12345",
			url:  "https://mycompany.com/myapp.php?foo=1&bar=2",
			body: "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212",
			headers: map[string]string{
				"Content-Type":       "application/x-www-form-urlencoded",
				"X-Twilio-Signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url
			if url == "" {
				url = "https://hooks.example.com/src"
			}
			r := httptest.NewRequest(http.MethodPost, url, strings.NewReader(tt.body))
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			tt.cfg.Secret = "env:K"
			at := tt.at
			v, err := verify.New("src", tt.cfg, memSecrets{"env:K": tt.key}, verify.WithClock(func() time.Time { return at }))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(context.Background(), r, []byte(tt.body)); err != nil {
				t.Fatalf("published example refused: %v", err)
			}
			// And our signer produces the published signature.
			if tt.cfg.Scheme == "twilio" {
				return // the signer adds bodySHA256 only for JSON; form requests are covered above
			}
			signed := httptest.NewRequest(http.MethodPost, url, strings.NewReader(tt.body))
			signed.Header.Set("Webhook-Id", tt.headers["Webhook-Id"])
			signed.Header.Set("Content-Type", tt.headers["Content-Type"])
			if err := verify.Sign(tt.cfg, []byte(tt.key), at, signed, []byte(tt.body)); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.headers {
				if got := signed.Header.Get(k); got != want {
					t.Errorf("Sign set %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestTwilioURLIsRebuiltAsHTTPSBehindTheFrontEnd(t *testing.T) {
	body := "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212"
	v := newVerifier(t, verify.Config{Scheme: "twilio"}, "12345")
	for _, host := range []string{"mycompany.com", "mycompany.com:443"} {
		// Cloud Run's front end terminates TLS: the function sees plain
		// HTTP with the public Host.
		r := httptest.NewRequest(http.MethodPost, "http://internal:8080/myapp.php?foo=1&bar=2", strings.NewReader(body))
		r.Host = host
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Twilio-Signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
		if _, err := v.Verify(context.Background(), r, []byte(body)); err != nil {
			t.Errorf("Host %s: %v", host, err)
		}
	}
}

func TestTwilioJSONBodyMustMatchBodySHA256(t *testing.T) {
	c := schemeCases[len(schemeCases)-1]
	v := newVerifier(t, c.cfg, c.key)
	r, body := c.request(t, c.key, now)
	if !strings.Contains(r.URL.RawQuery, "bodySHA256=") {
		t.Fatalf("signer did not add bodySHA256: %s", r.URL)
	}
	if _, err := v.Verify(context.Background(), r, []byte(`{"a":2}`)); !errors.Is(err, verify.ErrBadSignature) {
		t.Fatalf("other body under a signed URL: %v, want ErrBadSignature", err)
	}
	if _, err := v.Verify(context.Background(), r, body); err != nil {
		t.Fatal(err)
	}
}

func TestIdentityFromProviderHeaders(t *testing.T) {
	tests := []struct {
		name    string
		cfg     verify.Config
		key     string
		headers map[string]string
		want    verify.Identity
	}{
		{"github delivery and event", verify.Config{Scheme: "github"}, "k",
			map[string]string{"X-GitHub-Delivery": "d-1", "X-GitHub-Event": "push"}, verify.Identity{ID: "d-1", Type: "push"}},
		{"github ping is acknowledged", verify.Config{Scheme: "github"}, "k",
			map[string]string{"X-GitHub-Delivery": "d-2", "X-GitHub-Event": "ping"}, verify.Identity{ID: "d-2", Type: "ping", Acknowledge: true}},
		{"gitlab idempotency key first", verify.Config{Scheme: "gitlab"}, "k",
			map[string]string{"Idempotency-Key": "ik", "X-Gitlab-Event-UUID": "uuid", "X-Gitlab-Event": "Push Hook"}, verify.Identity{ID: "ik", Type: "Push Hook"}},
		{"gitlab event uuid on older versions", verify.Config{Scheme: "gitlab"}, "k",
			map[string]string{"X-Gitlab-Event-UUID": "uuid"}, verify.Identity{ID: "uuid"}},
		{"shopify event id over webhook id", verify.Config{Scheme: "shopify"}, "k",
			map[string]string{"X-Shopify-Event-Id": "e", "X-Shopify-Webhook-Id": "w", "X-Shopify-Topic": "orders/create"}, verify.Identity{ID: "e", Type: "orders/create"}},
		{"standard webhooks id", verify.Config{Scheme: "standardwebhooks"}, whKey,
			map[string]string{"Webhook-Id": "msg_1"}, verify.Identity{ID: "msg_1", Timestamp: now}},
		{"twilio idempotency token", verify.Config{Scheme: "twilio"}, "k",
			map[string]string{"I-Twilio-Idempotency-Token": "tw-1"}, verify.Identity{ID: "tw-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`{}`)
			r := httptest.NewRequest(http.MethodPost, "https://h.example/src", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if err := verify.Sign(tt.cfg, []byte(tt.key), now, r, body); err != nil {
				t.Fatal(err)
			}
			id, err := newVerifier(t, tt.cfg, tt.key).Verify(context.Background(), r, body)
			if err != nil {
				t.Fatal(err)
			}
			if !id.Timestamp.Equal(tt.want.Timestamp) {
				t.Fatalf("Timestamp = %v, want %v", id.Timestamp, tt.want.Timestamp)
			}
			id.Timestamp = tt.want.Timestamp
			if id != tt.want {
				t.Fatalf("Identity = %+v, want %+v", id, tt.want)
			}
		})
	}
}

func TestConfigurationErrorsNameTheField(t *testing.T) {
	tests := []struct {
		cfg  verify.Config
		want string
	}{
		{verify.Config{Scheme: "nope", Secret: "env:K"}, "verify.scheme"},
		{verify.Config{Scheme: "github"}, "verify.secret"},
		{verify.Config{Scheme: "none", Secret: "env:K"}, "verify.secret"},
		{verify.Config{Scheme: "hmac", Secret: "env:K"}, "verify.header"},
		{verify.Config{Scheme: "hmac", Secret: "env:K", Header: "X", Algorithm: "md5"}, "verify.algorithm"},
		{verify.Config{Scheme: "hmac", Secret: "env:K", Header: "X", Encoding: "base32"}, "verify.encoding"},
		{verify.Config{Scheme: "token", Secret: "env:K", Field: "a..b"}, "verify.field"},
		{verify.Config{Scheme: "token", Secret: "env:K", Field: "a", Header: "X"}, "verify.field"},
		{verify.Config{Scheme: "stripe", Secret: "env:K", Tolerance: "soon"}, "verify.tolerance"},
		{verify.Config{Scheme: "oidc", Audience: "https://x"}, "verify.email"},
		{verify.Config{Scheme: "oidc", Email: "e@x"}, "verify.audience"},
	}
	for _, tt := range tests {
		t.Run(tt.want+" "+tt.cfg.Scheme, func(t *testing.T) {
			_, err := verify.New("src", tt.cfg, memSecrets{})
			// The field first: the pipeline places it in the file
			// (config.Function.Located).
			if err == nil || !strings.HasPrefix(err.Error(), tt.want+": ") {
				t.Fatalf("New = %v, want an error starting with %s", err, tt.want)
			}
		})
	}
}

func TestToleranceIsConfigurable(t *testing.T) {
	c := schemeCases[7] // stripe
	cfg := c.cfg
	cfg.Tolerance = "30s"
	v := newVerifier(t, cfg, c.key)
	r, body := c.request(t, c.key, now.Add(-time.Minute))
	if _, err := v.Verify(context.Background(), r, body); !errors.Is(err, verify.ErrTooOld) {
		t.Fatalf("a minute old under a 30s tolerance: %v, want ErrTooOld", err)
	}
}

func TestSecretProblemsAreUnavailableNotForgeries(t *testing.T) {
	c := schemeCases[5] // github
	r, body := c.request(t, c.key, now)
	cfg := c.cfg
	cfg.Secret = "env:MISSING"
	v, err := verify.New("src", cfg, memSecrets{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), r, body); !errors.Is(err, verify.ErrSecretUnavailable) {
		t.Fatalf("unreadable secret: %v, want ErrSecretUnavailable", err)
	}
	v = newVerifier(t, verify.Config{Scheme: "standardwebhooks"}, "not base64 at all!\n")
	if _, err := v.Verify(context.Background(), r, body); !errors.Is(err, verify.ErrSecretUnavailable) {
		t.Fatalf("secret with no usable key: %v, want ErrSecretUnavailable", err)
	}
}

func TestNoSecretInLogsOrErrors(t *testing.T) {
	const secret = "whsec_" + "U0VDUkVULVZBTFVFLVNIT1VMRC1ORVZFUi1MRUFL" // base64 of a marker
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	v := newVerifier(t, verify.Config{Scheme: "standardwebhooks"}, "garbage-line-SECRETMARK\n"+secret, verify.WithLogger(logger))
	r := httptest.NewRequest(http.MethodPost, "https://h.example/src", strings.NewReader(`{}`))
	r.Header.Set("Webhook-Id", "msg_1")
	r.Header.Set("Webhook-Timestamp", fmt.Sprint(now.Unix()))
	r.Header.Set("Webhook-Signature", "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
	_, err := v.Verify(context.Background(), r, []byte(`{}`))
	if !errors.Is(err, verify.ErrBadSignature) {
		t.Fatalf("Verify = %v, want ErrBadSignature", err)
	}
	for _, leak := range []string{"SECRETMARK", "U0VDUkVU", "SECRET-VALUE"} {
		if strings.Contains(err.Error(), leak) || strings.Contains(logs.String(), leak) {
			t.Fatalf("secret material %q leaked: error %q, logs %q", leak, err, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "line") {
		t.Fatalf("the undecodable key line was not reported: %q", logs.String())
	}
}

func TestSchemeNoneAcceptsAnythingAndSaysSo(t *testing.T) {
	var logs bytes.Buffer
	v, err := verify.New("open", verify.Config{Scheme: "none"}, nil, verify.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "https://h.example/open", strings.NewReader("{}"))
	if _, err := v.Verify(context.Background(), r, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "unsigned") {
		t.Fatalf("no warning logged for scheme none: %q", logs.String())
	}
}

func TestHandshakeKeysComeFromTheirOwnSecret(t *testing.T) {
	v, err := verify.New("meta", verify.Config{Scheme: "github", Secret: "env:APP", HandshakeSecret: "env:VERIFY"},
		memSecrets{"env:APP": "app-secret", "env:VERIFY": "verify-token"})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := v.HandshakeKeys(context.Background())
	if err != nil || len(keys) != 1 || string(keys[0]) != "verify-token" {
		t.Fatalf("HandshakeKeys = %q, %v", keys, err)
	}
	keys, err = v.Keys(context.Background())
	if err != nil || len(keys) != 1 || string(keys[0]) != "app-secret" {
		t.Fatalf("Keys = %q, %v", keys, err)
	}
}

// Attack: a Standard Webhooks secret line "whsec_" alone (a paste that lost
// its key) decodes to zero bytes, and an HMAC keyed with nothing is one
// anyone can compute. The request signed with the empty key must not pass;
// the secret holds no usable key, which is ours to fix (503), and a real
// key beside the empty line still works.
func TestEmptyKeyCannotSign(t *testing.T) {
	body := []byte(`{"type":"user.created"}`)
	forged := httptest.NewRequest(http.MethodPost, "https://h.example/src", bytes.NewReader(body))
	ts := fmt.Sprint(now.Unix())
	forged.Header.Set("Webhook-Id", "msg_forged")
	forged.Header.Set("Webhook-Timestamp", ts)
	m := hmac.New(sha256.New, nil)
	m.Write([]byte("msg_forged." + ts + "."))
	m.Write(body)
	forged.Header.Set("Webhook-Signature", "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	cfg := verify.Config{Scheme: "standardwebhooks"}

	_, err := newVerifier(t, cfg, "whsec_\n").Verify(context.Background(), forged, body)
	if !errors.Is(err, verify.ErrSecretUnavailable) {
		t.Fatalf("signed with the empty key of a secret \"whsec_\": Verify = %v, want ErrSecretUnavailable", err)
	}
	_, err = newVerifier(t, cfg, "whsec_\n"+whKey).Verify(context.Background(), forged, body)
	if !errors.Is(err, verify.ErrBadSignature) {
		t.Fatalf("signed with the empty key beside a real one: Verify = %v, want ErrBadSignature", err)
	}
	if err := verify.Sign(cfg, []byte("whsec_"), now, forged, body); err == nil {
		t.Fatal("Sign accepted a key that decodes to zero bytes")
	}
}

// Attack: Twilio signs a JSON body only through the bodySHA256 query
// parameter, the signature covering the URL alone. A captured signature of
// a URL without bodySHA256 (or with it empty) must not carry a body of the
// attacker's choosing, whatever the Content-Type says: only a form body is
// signed without bodySHA256.
func TestTwilioBodyThatIsNotAFormIsNeverUnsigned(t *testing.T) {
	const key = "12345"
	v := newVerifier(t, verify.Config{Scheme: "twilio"}, key)
	forged := []byte(`{"To":"+15550000000","Body":"forged"}`)
	tests := []struct {
		name, target, contentType string
	}{
		{"JSON without bodySHA256", "https://hooks.example.com/twilio?x=1", "application/json"},
		{"JSON with an empty bodySHA256", "https://hooks.example.com/twilio?bodySHA256=", "application/json"},
		{"no Content-Type", "https://hooks.example.com/twilio", ""},
		{"text/plain", "https://hooks.example.com/twilio", "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.target, bytes.NewReader(forged))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			// The signature Twilio made for this URL alone.
			m := hmac.New(sha1.New, []byte(key))
			m.Write([]byte(tt.target))
			r.Header.Set("X-Twilio-Signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
			if _, err := v.Verify(context.Background(), r, forged); err == nil {
				t.Fatal("an unsigned body passed under a signature of the URL alone")
			}
		})
	}
}
