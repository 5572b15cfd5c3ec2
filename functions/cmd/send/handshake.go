package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudhooks/webhooks/shared/verify/handshake"
)

// handshakes performs each ownership handshake the source answers, the
// way its provider does when the URL is registered, and checks the reply
// as the provider would: -handshake, the "verify URL" button.
func (s *sender) handshakes(ctx context.Context, out io.Writer) error {
	kinds := s.src.Verify.Handshakes
	if len(kinds) == 0 {
		return fmt.Errorf("%s answers no handshakes (verify.handshakes is empty)", s.url)
	}
	var errs []error
	for _, kind := range kinds {
		err := s.handshake(ctx, kind)
		if err != nil {
			errs = append(errs, fmt.Errorf("handshake %s: %w", kind, err))
			fmt.Fprintf(out, "handshake %-9s %s: FAILED: %v\n", kind, s.url, err)
			continue
		}
		fmt.Fprintf(out, "handshake %-9s %s: ok\n", kind, s.url)
	}
	return errors.Join(errs...)
}

func (s *sender) handshake(ctx context.Context, kind string) error {
	nonce := make([]byte, 36)
	_, _ = rand.Read(nonce)
	token := base64.RawURLEncoding.EncodeToString(nonce) // 48 characters, the form of X's crc_token
	var (
		method = http.MethodPost
		query  = url.Values{}
		body   []byte
		signed bool // sent signed like an event (the provider signs it)
		header = http.Header{}
		want   func(reply []byte) error
	)
	echo := func(reply []byte) error {
		if string(reply) != token {
			return fmt.Errorf("reply %q, want the challenge echoed", truncate(reply))
		}
		return nil
	}
	jsonField := func(name, value string) func([]byte) error {
		return func(reply []byte) error {
			var m map[string]string
			if json.Unmarshal(reply, &m) != nil || m[name] != value {
				return fmt.Errorf("reply %q, want %q: %q", truncate(reply), name, value)
			}
			return nil
		}
	}
	switch kind {
	case handshake.Challenge:
		body, signed, want = mustJSON(map[string]string{"challenge": token}), true, jsonField("challenge", token)
	case handshake.Slack:
		body, signed, want = mustJSON(map[string]string{"type": "url_verification", "challenge": token}), true, jsonField("challenge", token)
	case handshake.Zoom:
		body = mustJSON(map[string]any{"event": "endpoint.url_validation", "event_ts": time.Now().UnixMilli(), "payload": map[string]string{"plainToken": token}})
		signed = true
		want = jsonField("encryptedToken", hex.EncodeToString(hmacSHA256(s.key, token)))
	case handshake.Meta:
		method = http.MethodGet
		query.Set("hub.mode", "subscribe")
		query.Set("hub.verify_token", string(s.handshakeKey))
		query.Set("hub.challenge", token)
		want = echo
	case handshake.CRC:
		method = http.MethodGet
		query.Set("crc_token", token)
		want = jsonField("response_token", "sha256="+base64.StdEncoding.EncodeToString(hmacSHA256(s.key, token)))
	case handshake.Dropbox:
		method = http.MethodGet
		query.Set("challenge", token)
		want = echo
	case handshake.Graph:
		query.Set("validationToken", token)
		want = echo
	case handshake.Discord:
		body, signed = mustJSON(map[string]any{"type": 1, "id": token, "application_id": "send"}), true
		want = func(reply []byte) error {
			if string(reply) != `{"type":1}` {
				return fmt.Errorf("reply %q, want the PONG {\"type\":1}", truncate(reply))
			}
			return nil
		}
	case handshake.Twitch:
		body, signed, want = mustJSON(map[string]any{"challenge": token, "subscription": map[string]string{"type": "channel.follow"}}), true, echo
		header.Set("Twitch-Eventsub-Message-Type", "webhook_callback_verification")
		header.Set("Twitch-Eventsub-Message-Id", token[:16])
	case handshake.Front:
		body, signed, want = []byte(`{}`), true, echo
		header.Set("X-Front-Challenge", token)
	case handshake.EventGrid:
		body = mustJSON([]map[string]any{{"id": token[:16], "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
			"data": map[string]string{"validationCode": token}}})
		header.Set("Aeg-Event-Type", "SubscriptionValidation")
		want = jsonField("validationResponse", token)
	case handshake.Okta:
		method, signed, want = http.MethodGet, true, jsonField("verification", token)
		header.Set("X-Okta-Verification-Challenge", token)
	default:
		return fmt.Errorf("send does not know handshake %q", kind)
	}
	u := s.url
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "cloudhooks-send/1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if signed {
		if err := s.sign(req, body); err != nil {
			return err
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s answered %d: %s", method, s.url, resp.StatusCode, truncate(reply))
	}
	return want(bytes.TrimSpace(reply))
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v) // maps of strings and numbers always marshal
	return b
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return strings.TrimSpace(string(b))
}
