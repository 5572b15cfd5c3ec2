package pipeline

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// crcClient is an address inside the allow_cidrs of the sources below, so
// that the allowlist is not what stops the attacks.
const crcClient = "192.0.2.7"

// askCRC asks h's crc handshake for the HMAC of token, as an attacker
// would: it returns the MAC, or nil when the handshake did not answer.
func askCRC(t *testing.T, h http.Handler, path, token string) []byte {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path+"?crc_token="+url.QueryEscape(token), nil)
	r.Header.Set("X-Forwarded-For", crcClient)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		return nil
	}
	var reply struct {
		ResponseToken string `json:"response_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil {
		t.Fatalf("crc reply %q: %v", w.Body, err)
	}
	mac, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(reply.ResponseToken, "sha256="))
	if err != nil {
		t.Fatalf("crc reply %q: %v", w.Body, err)
	}
	return mac
}

// Attack (issue 13, finding 1): the crc handshake answers an unsigned GET
// with HMAC-SHA256(key, crc_token). Where the source's scheme is an
// HMAC-SHA256 too, an attacker asks for the HMAC of the content a forged
// event would be signed over and posts the event with it. Every such
// configuration must be refused at start-up, naming the field; the one
// that starts, X's own scheme, must not accept what its handshake signs.
func TestCRCHandshakeIsNoSigningOracle(t *testing.T) {
	const ts = "1700000000"
	forgedEvent := `{"ref":"refs/heads/main","forged":true}`
	tests := []struct {
		name   string
		verify verify.Config
		key    string
		// signed is the content the scheme signs for body; forge puts the
		// MAC of it where the scheme reads its signature.
		signed func(body string) string
		forge  func(r *http.Request, mac []byte)
		body   string
		starts bool // the configuration is safe and starts
		// signs: the handshake signs the content (a CRC token), so the
		// post itself must be refused.
		signs bool
	}{
		{name: "github", verify: verify.Config{Scheme: "github"}, key: githubKey, body: forgedEvent,
			signed: func(b string) string { return b },
			forge: func(r *http.Request, mac []byte) {
				r.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac))
				r.Header.Set("X-GitHub-Event", "push")
				r.Header.Set("X-GitHub-Delivery", "forged-1")
			}},
		{name: "hmac sha256", verify: verify.Config{Scheme: "hmac", Header: "X-Signature"}, key: "attack-key-0123456789", body: forgedEvent,
			signed: func(b string) string { return b },
			forge:  func(r *http.Request, mac []byte) { r.Header.Set("X-Signature", hex.EncodeToString(mac)) }},
		{name: "shopify", verify: verify.Config{Scheme: "shopify"}, key: "shpss_attack-key-0123456789", body: forgedEvent,
			signed: func(b string) string { return b },
			forge: func(r *http.Request, mac []byte) {
				r.Header.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac))
			}},
		{name: "stripe", verify: verify.Config{Scheme: "stripe"}, key: "whsec_attack-key-0123456789", body: `{"id":"evt_forged","type":"payment_intent.succeeded"}`,
			signed: func(b string) string { return ts + "." + b },
			forge: func(r *http.Request, mac []byte) {
				r.Header.Set("Stripe-Signature", "t="+ts+",v1="+hex.EncodeToString(mac))
			}},
		{name: "slack", verify: verify.Config{Scheme: "slack"}, key: "slack-signing-secret", body: `{"event_id":"Ev1"}`,
			signed: func(b string) string { return "v0:" + ts + ":" + b },
			forge: func(r *http.Request, mac []byte) {
				r.Header.Set("X-Slack-Request-Timestamp", ts)
				r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac))
			}},
		{name: "standardwebhooks", verify: verify.Config{Scheme: "standardwebhooks"}, key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			body:   `{"type":"user.created"}`,
			signed: func(b string) string { return "msg_forged." + ts + "." + b },
			forge: func(r *http.Request, mac []byte) {
				r.Header.Set("Webhook-Id", "msg_forged")
				r.Header.Set("Webhook-Timestamp", ts)
				r.Header.Set("Webhook-Signature", "v1,"+base64.StdEncoding.EncodeToString(mac))
			}},
		{name: "twitter: a forged JSON event is no CRC token", verify: verify.Config{Scheme: "twitter"}, key: "consumer-secret-0123456789",
			body: `{"for_user_id":"2244994945","tweet_create_events":[]}`, starts: true,
			signed: func(b string) string { return b },
			forge: func(r *http.Request, mac []byte) {
				r.Header.Set("X-Twitter-Webhooks-Signature", "sha256="+base64.StdEncoding.EncodeToString(mac))
			}},
		{name: "twitter: a body that is a CRC token is never an event", verify: verify.Config{Scheme: "twitter"}, key: "consumer-secret-0123456789",
			body: "ZXZpbA", starts: true, signs: true,
			signed: func(b string) string { return b },
			forge: func(r *http.Request, mac []byte) {
				r.Header.Set("X-Twitter-Webhooks-Signature", "sha256="+base64.StdEncoding.EncodeToString(mac))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vc := tt.verify
			vc.Secret, vc.Handshakes, vc.AllowCIDRs = "env:K", []string{"crc"}, []string{"192.0.2.0/24"}
			p := &recorder{out: pattern.Outcome{Result: "stored"}}
			fn := &config.Function{Sources: []config.Source{{Name: "src", Verify: vc}}}
			h, err := New(context.Background(), fn, memSecrets{"env:K": tt.key},
				func(context.Context, config.Source) (pattern.Pattern, error) { return p, nil },
				Options{Logger: logging.New(&strings.Builder{}, slog.LevelInfo), Now: func() time.Time { return time.Unix(1_700_000_000, 0) }})
			switch {
			case err != nil && tt.starts:
				t.Fatalf("New: %v, want a safe configuration to start", err)
			case err != nil:
				if !strings.Contains(err.Error(), "verify.handshakes") {
					t.Fatalf("New: %v, want an error naming verify.handshakes", err)
				}
				return
			case !tt.starts:
				t.Errorf("a %s source answering crc started", vc.Scheme)
			}
			// The attack itself, against whatever started.
			mac := askCRC(t, h, "/src", tt.signed(tt.body))
			if mac == nil {
				if tt.signs {
					t.Fatal("the crc handshake did not answer a token of X's form")
				}
				return // the handshake refused to sign the forged content
			}
			r := httptest.NewRequest(http.MethodPost, "/src", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-Forwarded-For", crcClient)
			tt.forge(r, mac)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code < 300 || len(p.events) != 0 {
				t.Fatalf("forged event signed by the crc handshake: status %d, %d events reached the pattern", w.Code, len(p.events))
			}
		})
	}
}
