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

// devKey is a key long enough for every HMAC scheme.
const devKey = "0123456789abcdef0123"

const whKey = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var whOther = "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of 32 bytes........."))

var schemeCases = []schemeCase{
	{name: "token header", cfg: verify.Config{Scheme: "token"}, key: "s3cr3t-token-0123456", other: "other-token-0123456",
		body: `{"a":1}`, sigHeader: "Secret"},
	{name: "token field", cfg: verify.Config{Scheme: "token", Field: "auth.token"}, key: "s3cr3t-token-0123456", other: "other-token-0123456",
		body: `{"auth":{"token":"%s"}}`},
	{name: "basic", cfg: verify.Config{Scheme: "basic"}, key: "hooks:pa55word", other: "hooks:other",
		body: `{"a":1}`, sigHeader: "Authorization", malformed: "Basic %%%"},
	{name: "hmac sha512 base64 prefixed", cfg: verify.Config{Scheme: "hmac", Header: "X-Signature", Algorithm: "sha512", Encoding: "base64", Prefix: "sha512="},
		key: "key-one-0123456789", other: "key-two-0123456789", body: `{"a":1}`, sigHeader: "X-Signature", malformed: "sha512=@@@", bodySigned: true},
	{name: "hmac sha1 hex", cfg: verify.Config{Scheme: "hmac", Header: "X-Sig", Algorithm: "sha1"},
		key: "key-one-0123456789", other: "key-two-0123456789", body: `{"a":1}`, sigHeader: "X-Sig", malformed: "zz", bodySigned: true},
	{name: "github", cfg: verify.Config{Scheme: "github"}, key: "It's a Secret to Everybody", other: "another secret 0123",
		body: `{"zen":"x"}`, sigHeader: "X-Hub-Signature-256", malformed: "sha1=abc", bodySigned: true},
	{name: "gitlab", cfg: verify.Config{Scheme: "gitlab"}, key: "gl-token-0123456789", other: "gl-other-0123456789",
		body: `{"object_kind":"push"}`, sigHeader: "X-Gitlab-Token"},
	{name: "stripe", cfg: verify.Config{Scheme: "stripe"}, key: "whsec_test_stripe_0123456789", other: "whsec_other_0123456789ab",
		body: `{"id":"evt_1","type":"payment_intent.succeeded"}`, sigHeader: "Stripe-Signature", malformed: "t=1,v0=00", bodySigned: true, timed: true, wantIDField: "id"},
	{name: "slack", cfg: verify.Config{Scheme: "slack"}, key: "8f742231b10e8888abcd99yyyzzz85a5", other: "another secret 0123",
		body: `{"event_id":"Ev1","type":"event_callback"}`, sigHeader: "X-Slack-Signature", malformed: "v1=00", bodySigned: true, timed: true, wantIDField: "event_id"},
	{name: "zoom", cfg: verify.Config{Scheme: "zoom"}, key: "zoom-secret-token", other: "another secret 0123",
		body: `{"event":"meeting.started"}`, sigHeader: "X-Zm-Signature", malformed: "v0=xyz", bodySigned: true, timed: true},
	{name: "standardwebhooks", cfg: verify.Config{Scheme: "standardwebhooks"}, key: whKey, other: whOther,
		body: `{"type":"user.created"}`, sigHeader: "Webhook-Signature", malformed: "v2,abc", bodySigned: true, timed: true},
	{name: "svix", cfg: verify.Config{Scheme: "svix"}, key: whKey, other: whOther,
		body: `{"type":"user.created"}`, sigHeader: "Svix-Signature", malformed: "v1,***", bodySigned: true, timed: true},
	{name: "shopify", cfg: verify.Config{Scheme: "shopify"}, key: "shpss_secret_0123456", other: "shpss_other_0123456",
		body: `{"id":1}`, sigHeader: "X-Shopify-Hmac-Sha256", malformed: "!!", bodySigned: true},
	{name: "logto", cfg: verify.Config{Scheme: "logto"}, key: "logto-key-0123456789", other: "other-key-0123456789",
		body: `{"event":"User.Created"}`, sigHeader: "Logto-Signature-Sha-256", malformed: "xyz", bodySigned: true},
	{name: "twitter", cfg: verify.Config{Scheme: "twitter"}, key: "consumer-secret-0123", other: "old-consumer-secret",
		body: `{"for_user_id":"2244994945","tweet_create_events":[]}`, sigHeader: "X-Twitter-Webhooks-Signature", malformed: "sha256=@@", bodySigned: true},
	{name: "twilio form", cfg: verify.Config{Scheme: "twilio", URL: "https://hooks.example.com/source"}, key: "twilio-auth-token-0123", other: "twilio-auth-token-9876",
		body: "CallSid=CA1&From=%2B1555&Digits=1", contentType: "application/x-www-form-urlencoded",
		sigHeader: "X-Twilio-Signature", malformed: "###", bodySigned: true},
	{name: "twilio json", cfg: verify.Config{Scheme: "twilio", URL: "https://hooks.example.com/source"}, key: "twilio-auth-token-0123", other: "twilio-auth-token-9876",
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
func TestTwilioSignsTheConfiguredURLNotTheHost(t *testing.T) {
	body := "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212"
	cfg := verify.Config{Scheme: "twilio", URL: "https://mycompany.com/myapp.php"}
	signed := httptest.NewRequest(http.MethodPost, "https://mycompany.com/myapp.php?foo=1&bar=2", strings.NewReader(body))
	signed.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := verify.Sign(cfg, []byte(devKey), now, signed, []byte(body)); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, cfg, devKey)
	for _, host := range []string{"mycompany.com", "internal:8080"} {
		// Cloud Run's front end terminates TLS: the function sees plain
		// HTTP, whatever the Host; the URL comes from verify.url.
		r := httptest.NewRequest(http.MethodPost, "http://internal:8080/myapp.php?foo=1&bar=2", strings.NewReader(body))
		r.Host = host
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Twilio-Signature", signed.Header.Get("X-Twilio-Signature"))
		if _, err := v.Verify(context.Background(), r, []byte(body)); err != nil {
			t.Errorf("Host %s: %v", host, err)
		}
	}
}

// TestTwilioRequestSignedForAnotherEndpointIsRefused is the replay attack:
// an auth token signs every endpoint of the account, so a request Twilio
// signed for https://other.example/hook, replayed here with Host
// other.example, used to verify against the URL rebuilt from Host.
func TestTwilioRequestSignedForAnotherEndpointIsRefused(t *testing.T) {
	body := "CallSid=CA1&From=%2B1555&Digits=1"
	other := httptest.NewRequest(http.MethodPost, "https://other.example/hook", strings.NewReader(body))
	other.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := verify.Sign(verify.Config{Scheme: "twilio", URL: "https://other.example/hook"}, []byte(devKey), now, other, []byte(body)); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, verify.Config{Scheme: "twilio", URL: "https://hooks.example.com/store/twilio"}, devKey)
	r := httptest.NewRequest(http.MethodPost, "http://internal:8080/hook", strings.NewReader(body))
	r.Host = "other.example"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", other.Header.Get("X-Twilio-Signature"))
	if _, err := v.Verify(context.Background(), r, []byte(body)); !errors.Is(err, verify.ErrBadSignature) {
		t.Fatalf("a request signed for another endpoint: %v, want ErrBadSignature", err)
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
		{"github delivery and event", verify.Config{Scheme: "github"}, devKey,
			map[string]string{"X-GitHub-Delivery": "d-1", "X-GitHub-Event": "push"}, verify.Identity{ID: "d-1", Type: "push"}},
		{"github ping is acknowledged", verify.Config{Scheme: "github"}, devKey,
			map[string]string{"X-GitHub-Delivery": "d-2", "X-GitHub-Event": "ping"}, verify.Identity{ID: "d-2", Type: "ping", Acknowledge: true}},
		{"gitlab idempotency key first", verify.Config{Scheme: "gitlab"}, devKey,
			map[string]string{"Idempotency-Key": "ik", "X-Gitlab-Event-UUID": "uuid", "X-Gitlab-Event": "Push Hook"}, verify.Identity{ID: "ik", Type: "Push Hook"}},
		{"gitlab event uuid on older versions", verify.Config{Scheme: "gitlab"}, devKey,
			map[string]string{"X-Gitlab-Event-UUID": "uuid"}, verify.Identity{ID: "uuid"}},
		{"shopify event id over webhook id", verify.Config{Scheme: "shopify"}, devKey,
			map[string]string{"X-Shopify-Event-Id": "e", "X-Shopify-Webhook-Id": "w", "X-Shopify-Topic": "orders/create"}, verify.Identity{ID: "e", Type: "orders/create"}},
		{"standard webhooks id", verify.Config{Scheme: "standardwebhooks"}, whKey,
			map[string]string{"Webhook-Id": "msg_1"}, verify.Identity{ID: "msg_1", Timestamp: now}},
		{"twilio idempotency token", verify.Config{Scheme: "twilio", URL: "https://h.example/src"}, devKey,
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
		{verify.Config{Scheme: "none"}, "verify.allow_cidrs"},
		{verify.Config{Scheme: "none", AllowCIDRs: []string{"::/0"}}, "verify.allow_cidrs"},
		{verify.Config{Scheme: "microsoft-graph"}, "verify.allow_cidrs"},
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
	if !strings.Contains(logs.String(), `"entry":1`) {
		t.Fatalf("the undecodable key line was not reported: %q", logs.String())
	}
}

func TestSchemeNoneAcceptsAnythingAndSaysSo(t *testing.T) {
	var logs bytes.Buffer
	v, err := verify.New("open", verify.Config{Scheme: "none", AllowCIDRs: []string{"192.0.2.0/24"}}, nil, verify.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
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
		memSecrets{"env:APP": "app-secret-0123456789", "env:VERIFY": "verify-token"})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := v.HandshakeKeys(context.Background())
	if err != nil || len(keys) != 1 || string(keys[0]) != "verify-token" {
		t.Fatalf("HandshakeKeys = %q, %v", keys, err)
	}
	keys, err = v.Keys(context.Background())
	if err != nil || len(keys) != 1 || string(keys[0]) != "app-secret-0123456789" {
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
	const key = devKey
	v := newVerifier(t, verify.Config{Scheme: "twilio", URL: "https://hooks.example.com/twilio"}, key)
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

// The Why's replay: through the generic hmac scheme a ten-minute-old
// Linear delivery passed. The linear preset reads the signed body's
// webhookTimestamp (milliseconds) and holds it to Linear's SDK window of
// one minute.
func TestLinearDeliveryOlderThanItsWindowIsRefused(t *testing.T) {
	cfg := verify.Config{Scheme: "linear", Secret: "env:K"}
	const key = "lin_wh_0123456789abcdef"
	v, err := verify.New("linear", cfg, memSecrets{"env:K": key}, verify.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		age  time.Duration
		want error
	}{{30 * time.Second, nil}, {10 * time.Minute, verify.ErrTooOld}} {
		body := fmt.Sprintf(`{"action":"create","type":"Issue","webhookTimestamp":%d}`, now.Add(-tt.age).UnixMilli())
		r := httptest.NewRequest(http.MethodPost, "/linear", strings.NewReader(body))
		if err := verify.Sign(cfg, []byte(key), now, r, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), r, []byte(body)); !errors.Is(err, tt.want) {
			t.Errorf("a delivery signed %s ago: got %v, want %v", tt.age, err, tt.want)
		}
	}
}

// Attack: a proxy may reorder or merge repeated headers, so a header read
// by its first copy gives one request two readings. An event type header
// given twice ("ping" first acknowledged what "push" first stored) and a
// header the signature covers given twice (Front's timestamp: the first
// copy was signed, the second kept in the event) are refused in either
// order, as a repeated signature or id header is.
func TestARepeatedIdentityOrSignedHeaderIsRefusedInEitherOrder(t *testing.T) {
	tests := []struct {
		name, header, other string
		cfg                 verify.Config
		set                 map[string]string
	}{
		{"github event type", "X-GitHub-Event", "ping", verify.Config{Scheme: "github"},
			map[string]string{"X-GitHub-Delivery": "d-1", "X-GitHub-Event": "push"}},
		{"gitlab event type", "X-Gitlab-Event", "System Hook", verify.Config{Scheme: "gitlab"},
			map[string]string{"X-Gitlab-Event-UUID": "uuid", "X-Gitlab-Event": "Push Hook"}},
		{"shopify topic", "X-Shopify-Topic", "shop/redact", verify.Config{Scheme: "shopify"},
			map[string]string{"X-Shopify-Event-Id": "e", "X-Shopify-Topic": "orders/create"}},
		{"front signed timestamp", "X-Front-Request-Timestamp", "1", verify.Config{Scheme: "front"}, nil},
	}
	for _, tt := range tests {
		for _, otherFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, other copy first %v", tt.name, otherFirst), func(t *testing.T) {
				body := []byte(`{"a":1}`)
				r := httptest.NewRequest(http.MethodPost, "https://h.example/src", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				for k, v := range tt.set {
					r.Header.Set(k, v)
				}
				if err := verify.Sign(tt.cfg, []byte(devKey), now, r, body); err != nil {
					t.Fatal(err)
				}
				v := newVerifier(t, tt.cfg, devKey)
				if _, err := v.Verify(context.Background(), r, body); err != nil {
					t.Fatalf("the signed request: %v", err)
				}
				h := http.CanonicalHeaderKey(tt.header)
				if otherFirst {
					r.Header[h] = []string{tt.other, r.Header.Get(h)}
				} else {
					r.Header[h] = []string{r.Header.Get(h), tt.other}
				}
				if _, err := v.Verify(context.Background(), r, body); !errors.Is(err, verify.ErrMalformedHeader) {
					t.Fatalf("%s given twice: Verify = %v, want ErrMalformedHeader", tt.header, err)
				}
			})
		}
	}
}

// The Why's weak keys: a Stripe line "whsec_" (six public bytes) and a
// basic line ":" were keys, so whoever read the docs could sign. A secret
// holding no key that proves anything is our fault (503), and the forged
// request never passes.
func TestKeysThatProveNothingAreRefused(t *testing.T) {
	body := `{"id":"evt_forged","type":"payment_intent.succeeded"}`
	stripeForged := func(r *http.Request) {
		m := hmac.New(sha256.New, []byte("whsec_"))
		fmt.Fprintf(m, "%d.%s", now.Unix(), body)
		r.Header.Set("Stripe-Signature", fmt.Sprintf("t=%d,v1=%x", now.Unix(), m.Sum(nil)))
	}
	basicForged := func(cred string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
		}
	}
	tests := []struct {
		name, scheme, key string
		forge             func(*http.Request)
	}{
		{"stripe whsec_ alone", "stripe", "whsec_", stripeForged},
		{"basic with neither user nor password", "basic", ":", basicForged(":")},
		{"basic without a password", "basic", "hooks:", basicForged("hooks:")},
		{"basic without a user", "basic", ":secret", basicForged(":secret")},
		{"an HMAC key of one byte", "github", "k", func(r *http.Request) {
			m := hmac.New(sha256.New, []byte("k"))
			m.Write([]byte(body))
			r.Header.Set("X-Hub-Signature-256", fmt.Sprintf("sha256=%x", m.Sum(nil)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.New("src", verify.Config{Scheme: tt.scheme, Secret: "env:K"}, memSecrets{"env:K": tt.key}, verify.WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/src", strings.NewReader(body))
			tt.forge(r)
			_, err = v.Verify(context.Background(), r, []byte(body))
			if !errors.Is(err, verify.ErrSecretUnavailable) {
				t.Fatalf("a request signed with the weak key %q: %v, want ErrSecretUnavailable (503)", tt.key, err)
			}
		})
	}
}
