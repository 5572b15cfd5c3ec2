package pipeline

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/strictjson"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// FuzzEnvelope feeds arbitrary verified bodies and content types to the
// envelope: it never panics, it refuses a valid JSON body sent as JSON only
// for the strict rules (duplicate names, text that is not UTF-8), every
// event it accepts has an id, and an accepted payload is valid UTF-8 JSON,
// whether it came as JSON or as a form.
func FuzzEnvelope(f *testing.F) {
	for _, seed := range []struct{ contentType, body, idField string }{
		{"application/json", `{"id":"evt_1","type":"payment_intent.succeeded"}`, "id"},
		{"application/json; charset=utf-8", `{"event_id":9007199254740993,"event":{"type":"message"}}`, "event_id"},
		{"application/vnd.api+json", `[1,2]`, ""},
		{"application/x-www-form-urlencoded", "a=1&a=2&b=%zz", ""},
		{"", `{"version":"2"`, ""},
		{"application/json", `{"id":1e400}`, "id"},
		{"text/plain", "hello", ""},
	} {
		f.Add(seed.contentType, seed.body, seed.idField)
	}
	s := &source{name: "fuzz"}
	f.Fuzz(func(t *testing.T, contentType, body, idField string) {
		r := httptest.NewRequest(http.MethodPost, "/fuzz", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		ev, err := s.envelope(r, []byte(body), verify.Identity{IDField: idField}, time.Unix(0, 0))
		if err != nil {
			strict := false
			for _, e := range []error{strictjson.ErrDuplicateName, strictjson.ErrInvalidUTF8, strictjson.ErrNumberRange, strictjson.ErrTooDeep, strictjson.ErrTooManyNames} {
				strict = strict || errors.Is(err, e)
			}
			// Every function takes an object or an array at the top
			// level: a scalar is refused alike (400).
			trimmed := strings.TrimLeft(body, " \t\r\n")
			container := strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")
			if mt := mediaType(contentType); (mt == "" || mt == "application/json") && json.Valid([]byte(body)) && container && !strict {
				t.Fatalf("refused valid JSON %q (%s): %v", body, contentType, err)
			}
			return
		}
		if ev.ID == "" {
			t.Fatalf("accepted %q (%s) without an id", body, contentType)
		}
		if !json.Valid(ev.Payload) || !utf8.Valid(ev.Payload) {
			t.Fatalf("accepted %q (%s) with a payload that is not JSON: %q", body, contentType, ev.Payload)
		}
	})
}

// keyedHandshakeSources builds, for every scheme and every handshake that
// replies with an HMAC under the source's key, the source that answers it,
// and keeps those that start: the configurations a deployment can run.
func keyedHandshakeSources(f *testing.F) map[string]http.Handler {
	started := map[string]http.Handler{}
	for _, scheme := range verify.Schemes() {
		if scheme == verify.SchemeNone {
			continue // accepts every request, signed or not: nothing to forge
		}
		for _, kind := range []string{"crc", "zoom"} {
			vc := verify.Config{Scheme: scheme, Secret: "env:K", Handshakes: []string{kind}, AllowCIDRs: []string{"192.0.2.0/24"}}
			key := "fuzz-key-0123456789"
			switch scheme {
			case verify.SchemeHMAC:
				vc.Header = "X-Signature"
			case verify.SchemeOIDC:
				vc.Email, vc.Audience = "e@example.com", "https://h.example/src"
			case verify.SchemeStandardWebhooks, verify.SchemeSvix:
				key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
			case verify.SchemeBasic:
				key = "user:fuzz-key-0123456789"
			}
			fn := &config.Function{Sources: []config.Source{{Name: "src", Verify: vc}}}
			h, err := New(context.Background(), fn, memSecrets{"env:K": key},
				func(context.Context, config.Source) (pattern.Pattern, error) { return &recorder{}, nil },
				Options{Logger: logging.New(io.Discard, slog.LevelError), Now: func() time.Time { return time.Unix(1_700_000_000, 0) }})
			if err == nil {
				started[scheme+"+"+kind] = h
			}
		}
	}
	if started["twitter+crc"] == nil || len(started) != 2 {
		f.Fatalf("keyed handshakes start for %v, want exactly twitter+crc and zoom+zoom", slices.Sorted(maps.Keys(started)))
	}
	return started
}

// handshakeMACs asks h's keyed handshakes, unsigned, for the HMAC of
// token, and returns every MAC they answered with.
func handshakeMACs(h http.Handler, token string) [][]byte {
	var macs [][]byte
	zoom, _ := json.Marshal(map[string]any{"event": "endpoint.url_validation", "payload": map[string]string{"plainToken": token}})
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/src?"+url.Values{"crc_token": {token}}.Encode(), nil),
		httptest.NewRequest(http.MethodPost, "/src", bytes.NewReader(zoom)),
	} {
		r.Header.Set("X-Forwarded-For", crcClient)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var reply struct {
			ResponseToken  string `json:"response_token"`
			EncryptedToken string `json:"encryptedToken"`
		}
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &reply) != nil {
			continue
		}
		if mac, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(reply.ResponseToken, "sha256=")); err == nil && len(mac) > 0 {
			macs = append(macs, mac)
		}
		if mac, err := hex.DecodeString(reply.EncryptedToken); err == nil && len(mac) > 0 {
			macs = append(macs, mac)
		}
	}
	return macs
}

// FuzzHandshakeAnswerIsNeverASignature asks every source that starts with
// a handshake replying with an HMAC under its key (crc, zoom) for the HMAC
// of a fuzzed token, unsigned and from an allowed address, then posts the
// token, and a fuzzed body, with that MAC in every signature header and
// every encoding the schemes read. Property: a request never both gets a
// handshake answer usable as a signature and passes verification.
func FuzzHandshakeAnswerIsNeverASignature(f *testing.F) {
	f.Add("M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0", "1700000000", []byte(`{"for_user_id":"1"}`))
	f.Add(`{"for_user_id":"1","tweet_create_events":[]}`, "1700000000", []byte(`{}`))
	f.Add("1700000000."+`{"id":"evt_1"}`, "1700000000", []byte(`{"id":"evt_1"}`))
	f.Add("v0:1700000000:{}", "1700000000", []byte(`{}`))
	f.Add("YQ==", "", []byte("a=1"))
	sources := keyedHandshakeSources(f)
	sigHeaders := []string{"X-Twitter-Webhooks-Signature", "X-Hub-Signature-256", "X-Signature", "Stripe-Signature", "X-Slack-Signature",
		"X-Zm-Signature", "X-Shopify-Hmac-Sha256", "Logto-Signature-Sha-256", "X-Twilio-Signature", "Webhook-Signature", "Svix-Signature",
		"Secret", "X-Gitlab-Token", "Authorization"}
	f.Fuzz(func(t *testing.T, token, ts string, body []byte) {
		for name, h := range sources {
			for _, mac := range handshakeMACs(h, token) {
				hx, b64 := hex.EncodeToString(mac), base64.StdEncoding.EncodeToString(mac)
				for _, sig := range []string{"sha256=" + b64, "sha256=" + hx, hx, b64, "v0=" + hx, "v1," + b64, "t=" + ts + ",v1=" + hx} {
					for i, b := range [][]byte{[]byte(token), []byte(token), body} {
						r := httptest.NewRequest(http.MethodPost, "/src", bytes.NewReader(b))
						r.Header.Set("Content-Type", []string{"application/json", "application/x-www-form-urlencoded", "application/json"}[i])
						r.Header.Set("X-Forwarded-For", crcClient)
						for _, hd := range sigHeaders {
							r.Header.Set(hd, sig)
						}
						for _, hd := range []string{"X-Slack-Request-Timestamp", "X-Zm-Request-Timestamp", "Webhook-Timestamp", "Svix-Timestamp"} {
							r.Header.Set(hd, ts)
						}
						r.Header.Set("Webhook-Id", "msg_1")
						w := httptest.NewRecorder()
						h.ServeHTTP(w, r)
						if w.Code < 300 {
							t.Fatalf("%s: the handshake's answer for %q passed as the signature %q of body %q: %d %s", name, token, sig, b, w.Code, w.Body)
						}
					}
				}
			}
		}
	})
}
