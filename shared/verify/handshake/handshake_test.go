package handshake_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/shared/verify/handshake"
)

// Two keys, as a secret holds them during a rotation: current first.
var rotating = [][]byte{[]byte("current-key"), []byte("previous-key")}

func TestValidAndBeforeVerification(t *testing.T) {
	tests := []struct {
		kind      string
		valid     bool
		unsigned  bool
		rationale string
	}{
		{handshake.Challenge, true, false, "the guide's sender authenticates its challenge like any event"},
		{handshake.Slack, true, false, "Slack signs url_verification"},
		{handshake.Meta, true, true, "Meta's verification GET is unsigned"},
		{handshake.CRC, true, true, "the CRC GET is unsigned"},
		{handshake.Zoom, true, false, "Zoom signs endpoint.url_validation"},
		{handshake.Dropbox, true, true, "Dropbox's verification GET is unsigned"},
		{handshake.Graph, true, true, "Graph's validation POST is unsigned"},
		{handshake.Discord, true, false, "Discord signs its PING"},
		{handshake.Twitch, true, false, "Twitch signs webhook_callback_verification"},
		{handshake.Front, true, false, "Front signs its challenge"},
		{handshake.EventGrid, true, true, "Event Grid's validation POST is unsigned"},
		{handshake.Okta, true, false, "Okta's verification carries the hook's authorization"},
		{"github", false, false, "unknown kinds are not valid"},
		{"", false, false, "the empty kind is not valid"},
		{"Slack", false, false, "kinds are case-sensitive, as in the YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.rationale, func(t *testing.T) {
			if got := handshake.Valid(tt.kind); got != tt.valid {
				t.Errorf("Valid(%q) = %v, want %v", tt.kind, got, tt.valid)
			}
			if got := handshake.BeforeVerification(tt.kind); got != tt.unsigned {
				t.Errorf("BeforeVerification(%q) = %v, want %v", tt.kind, got, tt.unsigned)
			}
		})
	}
	if got := len(handshake.Kinds()); got != 12 {
		t.Errorf("Kinds() has %d kinds, want 12: %v", got, handshake.Kinds())
	}
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func crcMAC(key, token string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(token))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestValidCRCToken(t *testing.T) {
	tests := []struct {
		token string
		want  bool
	}{
		{"M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0", true}, // X's: base64 of a UUID
		{"a+b/c-d_e", true},
		{"YQ==", true},
		{strings.Repeat("A", handshake.MaxCRCToken), true},
		{"", false},
		{"==", false},
		{"YQ===", false},
		{"a=b", false},
		{strings.Repeat("A", handshake.MaxCRCToken+1), false},
		{`{"a":1}`, false},
		{"a b", false},
		{"a%20b", false},
		{"a\nb", false},
	}
	for _, tt := range tests {
		if got := handshake.ValidCRCToken(tt.token); got != tt.want {
			t.Errorf("ValidCRCToken(%q) = %v, want %v", tt.token, got, tt.want)
		}
		if got := handshake.ValidCRCToken([]byte(tt.token)); got != tt.want {
			t.Errorf("ValidCRCToken([]byte(%q)) = %v, want %v", tt.token, got, tt.want)
		}
	}
}

func TestAnswer(t *testing.T) {
	long := strings.Repeat("a", handshake.MaxEcho+1)
	atLimit := strings.Repeat("b", handshake.MaxEcho)
	const (
		text = "text/plain; charset=utf-8"
		js   = "application/json"
	)
	tests := []struct {
		name     string
		kind     string
		method   string
		target   string
		body     string
		keys     [][]byte
		header   map[string]string
		wantErr  error  // nil: no error
		wantNil  bool   // (nil, nil): not this handshake
		wantType string // Content-Type of the reply
		wantBody string // exact reply body
	}{
		// challenge (Cloud Run webhook guide)
		{name: "challenge is echoed as JSON", kind: "challenge", method: "POST", target: "/src",
			body: `{"challenge":"c-123"}`, wantType: js, wantBody: `{"challenge":"c-123"}`},
		{name: "challenge echo escapes markup", kind: "challenge", method: "POST", target: "/src",
			body: `{"challenge":"<script>x</script>"}`, wantType: js, wantBody: `{"challenge":"\u003cscript\u003ex\u003c/script\u003e"}`},
		{name: "challenge of exactly MaxEcho bytes is echoed", kind: "challenge", method: "POST", target: "/src",
			body: `{"challenge":"` + atLimit + `"}`, wantType: js, wantBody: `{"challenge":"` + atLimit + `"}`},
		{name: "challenge longer than MaxEcho is malformed", kind: "challenge", method: "POST", target: "/src",
			body: `{"challenge":"` + long + `"}`, wantErr: handshake.ErrMalformed},
		{name: "challenge that is not a string is malformed", kind: "challenge", method: "POST", target: "/src",
			body: `{"challenge":42}`, wantErr: handshake.ErrMalformed},
		{name: "empty challenge is malformed", kind: "challenge", method: "POST", target: "/src",
			body: `{"challenge":""}`, wantErr: handshake.ErrMalformed},
		{name: "challenge: an ordinary event is not a handshake", kind: "challenge", method: "POST", target: "/src",
			body: `{"id":"evt_1","type":"push"}`, wantNil: true},
		{name: "challenge: a JSON array is not a handshake", kind: "challenge", method: "POST", target: "/src",
			body: `[{"challenge":"x"}]`, wantNil: true},
		{name: "challenge: a form body is not a handshake", kind: "challenge", method: "POST", target: "/src",
			body: `challenge=x`, wantNil: true},

		// slack
		{name: "slack url_verification is answered with its challenge", kind: "slack", method: "POST", target: "/slack",
			body: `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`,
			keys: rotating, wantType: js, wantBody: `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`},
		{name: "slack url_verification without challenge is malformed", kind: "slack", method: "POST", target: "/slack",
			body: `{"type":"url_verification"}`, wantErr: handshake.ErrMalformed},
		{name: "slack: an event_callback is not a handshake", kind: "slack", method: "POST", target: "/slack",
			body: `{"type":"event_callback","challenge":"x","event":{}}`, wantNil: true},
		{name: "slack: a type that is not a string is not a handshake", kind: "slack", method: "POST", target: "/slack",
			body: `{"type":["url_verification"],"challenge":"x"}`, wantNil: true},

		// meta
		{name: "meta with the current key is answered with the challenge", kind: "meta", method: "GET",
			target: "/meta?hub.mode=subscribe&hub.verify_token=current-key&hub.challenge=1158201444", keys: rotating,
			wantType: text, wantBody: "1158201444"},
		{name: "meta with the previous key is answered too (rotation)", kind: "meta", method: "GET",
			target: "/meta?hub.mode=subscribe&hub.verify_token=previous-key&hub.challenge=99", keys: rotating,
			wantType: text, wantBody: "99"},
		{name: "meta with a wrong token is refused", kind: "meta", method: "GET",
			target: "/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=99", keys: rotating, wantErr: handshake.ErrRefused},
		{name: "meta with a prefix of a key is refused", kind: "meta", method: "GET",
			target: "/meta?hub.mode=subscribe&hub.verify_token=current&hub.challenge=99", keys: rotating, wantErr: handshake.ErrRefused},
		{name: "meta with an empty verify_token is malformed", kind: "meta", method: "GET",
			target: "/meta?hub.mode=subscribe&hub.verify_token=&hub.challenge=99", keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "meta without keys is refused", kind: "meta", method: "GET",
			target: "/meta?hub.mode=subscribe&hub.verify_token=current-key&hub.challenge=99", wantErr: handshake.ErrRefused},
		{name: "meta without verify_token is malformed", kind: "meta", method: "GET",
			target: "/meta?hub.mode=subscribe&hub.challenge=99", keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "meta without challenge is malformed", kind: "meta", method: "GET",
			target: "/meta?hub.mode=subscribe&hub.verify_token=current-key", keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "meta with a mode other than subscribe is malformed", kind: "meta", method: "GET",
			target: "/meta?hub.mode=unsubscribe&hub.verify_token=current-key&hub.challenge=99", keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "meta with the token given twice is malformed", kind: "meta", method: "GET",
			target: "/meta?hub.mode=subscribe&hub.verify_token=guess&hub.verify_token=current-key&hub.challenge=99", keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "meta with an over-long challenge is malformed", kind: "meta", method: "GET",
			target: "/meta?hub.mode=subscribe&hub.verify_token=current-key&hub.challenge=" + long, keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "meta GET without hub.mode is not a handshake", kind: "meta", method: "GET",
			target: "/meta?hub.challenge=99", keys: rotating, wantNil: true},
		{name: "meta: a POST event is not a handshake", kind: "meta", method: "POST",
			target: "/meta?hub.mode=subscribe&hub.verify_token=current-key&hub.challenge=99", body: `{"object":"page"}`, keys: rotating, wantNil: true},

		// crc (Twitter/X); the expected token was computed independently with
		// openssl dgst -sha256 -hmac consumer-secret -binary | base64.
		{name: "crc is answered with the HMAC of the token", kind: "crc", method: "GET",
			target: "/x?crc_token=challenge-token-1", keys: [][]byte{[]byte("consumer-secret")},
			wantType: js, wantBody: `{"response_token":"sha256=2gm1lG/BnSC3YBqNm6KI9OVxOxUpj0T9DtrpJ2uSUlQ="}`},
		{name: "crc signs with the first (current) key", kind: "crc", method: "GET",
			target: "/x?crc_token=challenge-token-1", keys: [][]byte{[]byte("consumer-secret"), []byte("old-secret")},
			wantType: js, wantBody: `{"response_token":"sha256=2gm1lG/BnSC3YBqNm6KI9OVxOxUpj0T9DtrpJ2uSUlQ="}`},
		{name: "crc without keys cannot be signed", kind: "crc", method: "GET",
			target: "/x?crc_token=t", wantErr: handshake.ErrNoKey},
		{name: "crc with an empty token is malformed", kind: "crc", method: "GET",
			target: "/x?crc_token=", keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "crc with an over-long token is malformed", kind: "crc", method: "GET",
			target: "/x?crc_token=" + long, keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "crc token of X's form (base64 of a UUID) is answered", kind: "crc", method: "GET",
			target: "/x?crc_token=M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0", keys: [][]byte{[]byte("consumer-secret")},
			wantType: js, wantBody: `{"response_token":"sha256=` + crcMAC("consumer-secret", "M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0") + `"}`},
		{name: "crc token that is a JSON event is not signed", kind: "crc", method: "GET",
			target: "/x?crc_token=" + url.QueryEscape(`{"for_user_id":"1"}`), keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "crc token that is a form body is not signed", kind: "crc", method: "GET",
			target: "/x?crc_token=" + url.QueryEscape("a=b&c=d"), keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "crc token longer than X's is not signed", kind: "crc", method: "GET",
			target: "/x?crc_token=" + strings.Repeat("A", handshake.MaxCRCToken+1), keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "crc GET without crc_token is not a handshake", kind: "crc", method: "GET",
			target: "/x?other=1", keys: rotating, wantNil: true},
		{name: "crc: a POST event is not a handshake", kind: "crc", method: "POST",
			target: "/x?crc_token=t", body: `{}`, keys: rotating, wantNil: true},

		// zoom: Zoom's documented example request, with the secret token of
		// Elastic Beats' http_endpoint test, whose published answer this is.
		{name: "zoom is answered with Zoom's published example", kind: "zoom", method: "POST", target: "/zoom",
			body:     `{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`,
			keys:     [][]byte{[]byte("secretValueTest")},
			wantType: js, wantBody: `{"encryptedToken":"70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff","plainToken":"qgg8vlvZRS6UYooatFL8Aw"}`},
		{name: "zoom signs with the first (current) key", kind: "zoom", method: "POST", target: "/zoom",
			body: `{"payload":{"plainToken":"p1"},"event":"endpoint.url_validation"}`, keys: rotating,
			wantType: js, wantBody: `{"encryptedToken":"` + hmacHex("current-key", "p1") + `","plainToken":"p1"}`},
		{name: "zoom without keys cannot be signed", kind: "zoom", method: "POST", target: "/zoom",
			body: `{"payload":{"plainToken":"p1"},"event":"endpoint.url_validation"}`, wantErr: handshake.ErrNoKey},
		{name: "zoom without plainToken is malformed", kind: "zoom", method: "POST", target: "/zoom",
			body: `{"payload":{},"event":"endpoint.url_validation"}`, keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "zoom without a payload object is malformed", kind: "zoom", method: "POST", target: "/zoom",
			body: `{"payload":"p1","event":"endpoint.url_validation"}`, keys: rotating, wantErr: handshake.ErrMalformed},
		{name: "zoom: a meeting event is not a handshake", kind: "zoom", method: "POST", target: "/zoom",
			body: `{"event":"meeting.started","payload":{"plainToken":"p1"}}`, keys: rotating, wantNil: true},

		// dropbox
		{name: "dropbox challenge is echoed as text", kind: "dropbox", method: "GET",
			target: "/dbx?challenge=abc123", wantType: text, wantBody: "abc123"},
		{name: "dropbox echo of markup is still text/plain", kind: "dropbox", method: "GET",
			target: "/dbx?challenge=%3Cscript%3E", wantType: text, wantBody: "<script>"},
		{name: "dropbox with an over-long challenge is malformed", kind: "dropbox", method: "GET",
			target: "/dbx?challenge=" + long, wantErr: handshake.ErrMalformed},
		{name: "dropbox with the challenge given twice is malformed", kind: "dropbox", method: "GET",
			target: "/dbx?challenge=a&challenge=b", wantErr: handshake.ErrMalformed},
		{name: "dropbox GET without challenge is not a handshake", kind: "dropbox", method: "GET",
			target: "/dbx", wantNil: true},
		{name: "dropbox: a POST notification is not a handshake", kind: "dropbox", method: "POST",
			target: "/dbx", body: `{"list_folder":{"accounts":["dbid:1"]}}`, wantNil: true},

		// graph
		{name: "graph validationToken is echoed URL-decoded", kind: "graph", method: "POST",
			target:   "/graph?validationToken=Validation%3A+Testing+client+application+reachability+for+subscription+Request-Id%3A+b2a3",
			wantType: text, wantBody: "Validation: Testing client application reachability for subscription Request-Id: b2a3"},
		{name: "graph with an empty validationToken is malformed", kind: "graph", method: "POST",
			target: "/graph?validationToken=", wantErr: handshake.ErrMalformed},
		{name: "graph: a notification POST is not a handshake", kind: "graph", method: "POST",
			target: "/graph", body: `{"value":[]}`, wantNil: true},
		{name: "graph: a GET is not Graph's handshake", kind: "graph", method: "GET",
			target: "/graph?validationToken=x", wantNil: true},

		// discord, twitch, front: answered after verification
		{name: "discord PING is answered with a PONG", kind: "discord", method: "POST", target: "/discord",
			body: `{"id":"1","type":1,"application_id":"2"}`, wantType: js, wantBody: `{"type":1}`},
		{name: "discord: an application command is not a handshake", kind: "discord", method: "POST", target: "/discord",
			body: `{"id":"1","type":2}`, wantNil: true},
		{name: "twitch verification is answered with its challenge as text", kind: "twitch", method: "POST", target: "/twitch",
			header: map[string]string{"Twitch-Eventsub-Message-Type": "webhook_callback_verification"},
			body:   `{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2"}}`, wantType: text, wantBody: "pogchamp-kappa-360noscope-vohiyo"},
		{name: "twitch: a notification is not a handshake", kind: "twitch", method: "POST", target: "/twitch",
			header: map[string]string{"Twitch-Eventsub-Message-Type": "notification"}, body: `{"challenge":"x"}`, wantNil: true},
		{name: "twitch verification without a challenge is malformed", kind: "twitch", method: "POST", target: "/twitch",
			header: map[string]string{"Twitch-Eventsub-Message-Type": "webhook_callback_verification"}, body: `{}`, wantErr: handshake.ErrMalformed},
		{name: "front challenge header is echoed", kind: "front", method: "POST", target: "/front",
			header: map[string]string{"X-Front-Challenge": "abc123"}, body: `{}`, wantType: text, wantBody: "abc123"},
		{name: "front: an event without the header is not a handshake", kind: "front", method: "POST", target: "/front",
			body: `{"type":"inbound"}`, wantNil: true},

		// eventgrid, okta
		{name: "event grid validation is answered with its code", kind: "eventgrid", method: "POST", target: "/eg",
			header:   map[string]string{"Aeg-Event-Type": "SubscriptionValidation"},
			body:     `[{"id":"2d1781af","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}}]`,
			wantType: js, wantBody: `{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}`},
		{name: "event grid: a notification is not a handshake", kind: "eventgrid", method: "POST", target: "/eg",
			header: map[string]string{"Aeg-Event-Type": "Notification"}, body: `[{"eventType":"x"}]`, wantNil: true},
		{name: "event grid validation of another event type is malformed", kind: "eventgrid", method: "POST", target: "/eg",
			header: map[string]string{"Aeg-Event-Type": "SubscriptionValidation"}, body: `[{"eventType":"Microsoft.Storage.BlobCreated"}]`, wantErr: handshake.ErrMalformed},
		{name: "okta verification is answered as JSON", kind: "okta", method: "GET", target: "/okta",
			header: map[string]string{"X-Okta-Verification-Challenge": "rvdeZ2tHTKgMyo2-bV_-Lg"}, wantType: js, wantBody: `{"verification":"rvdeZ2tHTKgMyo2-bV_-Lg"}`},
		{name: "okta: an event is not a handshake", kind: "okta", method: "POST", target: "/okta", body: `{"eventType":"x"}`, wantNil: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "https://hooks.example"+tt.target, strings.NewReader(tt.body))
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			reply, err := handshake.Answer(tt.kind, r, []byte(tt.body), tt.keys)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) || reply != nil {
					t.Fatalf("Answer = %v, %v; want error %v", reply, err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("Answer: %v", err)
			case tt.wantNil:
				if reply != nil {
					t.Fatalf("Answer = %d %q, want no handshake", reply.Status, reply.Body)
				}
				return
			case reply == nil:
				t.Fatal("Answer = nil, want a reply")
			}
			if reply.Status != http.StatusOK {
				t.Errorf("Status = %d, want 200", reply.Status)
			}
			if got := reply.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := reply.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if string(reply.Body) != tt.wantBody {
				t.Errorf("Body = %s, want %s", reply.Body, tt.wantBody)
			}
		})
	}
}

func TestAnswerRefusesUnknownKind(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x?challenge=1", nil)
	reply, err := handshake.Answer("nope", r, nil, rotating)
	if err == nil || reply != nil {
		t.Fatalf("Answer(unknown) = %v, %v; want an error", reply, err)
	}
	for _, sentinel := range []error{handshake.ErrRefused, handshake.ErrMalformed} {
		if errors.Is(err, sentinel) {
			t.Errorf("unknown kind error %v must not be a request error (%v): it is a configuration bug", err, sentinel)
		}
	}
}

func TestErrorsKeepSecretsOut(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1", nil)
	_, err := handshake.Answer(handshake.Meta, r, nil, rotating)
	if err == nil {
		t.Fatal("want ErrRefused")
	}
	for _, k := range rotating {
		if strings.Contains(err.Error(), string(k)) {
			t.Errorf("error %q contains a key", err)
		}
	}
}

// FuzzAnswer feeds arbitrary methods, queries and bodies to every kind.
// Properties: no panic; every error is a documented sentinel; every reply
// is 200, nosniff, text/plain or JSON and bounded; a meta reply only ever
// follows a token that is a key.
func FuzzAnswer(f *testing.F) {
	f.Add(uint8(0), uint8(1), "", []byte(`{"challenge":"x"}`))
	f.Add(uint8(1), uint8(1), "", []byte(`{"type":"url_verification","challenge":"x"}`))
	f.Add(uint8(2), uint8(0), "hub.mode=subscribe&hub.verify_token=current-key&hub.challenge=1", []byte(nil))
	f.Add(uint8(2), uint8(0), "hub.mode=subscribe&hub.verify_token=current-key&hub.verify_token=x&hub.challenge=1", []byte(nil))
	f.Add(uint8(3), uint8(0), "crc_token=%zz&crc_token=a", []byte(nil))
	f.Add(uint8(3), uint8(0), "crc_token=%7B%22a%22%3A1%7D", []byte(nil))
	f.Add(uint8(3), uint8(0), "crc_token=YQ%3D%3D", []byte(nil))
	f.Add(uint8(4), uint8(1), "", []byte(`{"event":"endpoint.url_validation","payload":{"plainToken":null}}`))
	f.Add(uint8(5), uint8(0), "challenge=%3Chtml%3E", []byte(nil))
	f.Add(uint8(6), uint8(1), "validationToken=a+b%20c", []byte("\x00\xff"))
	kinds := handshake.Kinds()
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodHead, ""}
	sentinels := []error{handshake.ErrRefused, handshake.ErrMalformed, handshake.ErrNoKey}
	f.Fuzz(func(t *testing.T, k, m uint8, rawQuery string, body []byte) {
		kind := kinds[int(k)%len(kinds)]
		r := &http.Request{
			Method: methods[int(m)%len(methods)],
			URL:    &url.URL{Path: "/src", RawQuery: rawQuery},
			Header: http.Header{},
			Body:   http.NoBody,
		}
		for _, keys := range [][][]byte{rotating, nil} {
			reply, err := handshake.Answer(kind, r, body, keys)
			if err != nil {
				known := false
				for _, s := range sentinels {
					known = known || errors.Is(err, s)
				}
				if !known || reply != nil {
					t.Fatalf("%s: Answer = %v, %v; want a documented sentinel and no reply", kind, reply, err)
				}
				continue
			}
			if reply == nil {
				continue
			}
			ct := reply.Header.Get("Content-Type")
			if reply.Status != http.StatusOK || reply.Header.Get("X-Content-Type-Options") != "nosniff" ||
				(ct != "application/json" && !strings.HasPrefix(ct, "text/plain")) {
				t.Fatalf("%s: unsafe reply %d %v", kind, reply.Status, reply.Header)
			}
			if ct == "application/json" {
				if !json.Valid(reply.Body) || bytes.ContainsAny(reply.Body, "<>") {
					t.Fatalf("%s: JSON reply %q is invalid or carries markup", kind, reply.Body)
				}
				// \u escapes expand a byte to at most 6.
				if len(reply.Body) > 6*handshake.MaxEcho+200 {
					t.Fatalf("%s: reply of %d bytes exceeds the echo bound", kind, len(reply.Body))
				}
			} else if len(reply.Body) > handshake.MaxEcho {
				t.Fatalf("%s: text reply of %d bytes exceeds MaxEcho", kind, len(reply.Body))
			}
			if kind == handshake.CRC && !handshake.ValidCRCToken(r.URL.Query().Get("crc_token")) {
				t.Fatalf("crc signed %q, which is no CRC token", r.URL.Query().Get("crc_token"))
			}
			if kind == handshake.Meta {
				token := r.URL.Query().Get("hub.verify_token")
				if token != "current-key" && token != "previous-key" {
					t.Fatalf("meta answered token %q, which is no key", token)
				}
			}
		}
	})
}

// A source answering Meta's verification request; the token is the
// source's handshake secret.
func ExampleAnswer() {
	r := httptest.NewRequest(http.MethodGet,
		"https://hooks.example/meta?hub.mode=subscribe&hub.verify_token=s3cret&hub.challenge=1158201444", nil)
	reply, err := handshake.Answer(handshake.Meta, r, nil, [][]byte{[]byte("s3cret")})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(reply.Status, reply.Header.Get("Content-Type"), string(reply.Body))
	// Output: 200 text/plain; charset=utf-8 1158201444
}
