package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/strictjson"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// envelope builds the event from a verified request. It is the one
// reading of a request for every function: whatever a pattern does, the
// same bytes and headers become the same event or the same refusal.
func (s *source) envelope(r *http.Request, body []byte, id verify.Identity, now time.Time) (*event.Event, error) {
	ev := &event.Event{
		Source:     s.name,
		ID:         id.ID,
		Type:       id.Type,
		ReceivedAt: now.UTC(),
		Headers:    s.keptHeaders(r.Header),
	}
	if err := identityEncoding(r.Header); err != nil {
		return ev, err
	}
	version, err := singleHeader(r.Header, "X-Webhook-Version")
	if err != nil {
		return ev, err
	}
	mediaType := mediaType(r.Header.Get("Content-Type"))
	switch {
	case mediaType == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return ev, fmt.Errorf("%w: form: %w", ErrMalformedBody, err)
		}
		vs, carried := form[s.formField]
		switch {
		case s.formField == "" || !carried:
			// A plain form (Slack's slash commands, Twilio): its fields.
			ev.Payload = formJSON(form)
		case len(vs) != 1:
			return ev, fmt.Errorf("%w: form field %s given %d times", ErrMalformedBody, s.formField, len(vs))
		default:
			// The provider's JSON in a form field (GitHub's form content
			// type, Slack's interactive payload): verified as received
			// above, read as the JSON event it carries from here on.
			if err := s.jsonPayload(ev, []byte(vs[0]), id); err != nil {
				return ev, fmt.Errorf("form field %s: %w", s.formField, err)
			}
		}
	case mediaType == "" || mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"),
		mediaType == "text/plain" && s.plainJSON:
		if err := s.jsonPayload(ev, body, id); err != nil {
			return ev, err
		}
	default:
		return ev, fmt.Errorf("%w: %q", ErrContentType, mediaType)
	}
	if version != "" {
		ev.SchemaVersion = version
	}
	for _, v := range []string{ev.ID, ev.Type, ev.SchemaVersion} {
		// A payload's fields are UTF-8 already (strictjson); a header's
		// bytes are whatever the sender put there.
		if !utf8.ValidString(v) {
			return ev, fmt.Errorf("%w: %.100q", ErrMalformedIdentity, v)
		}
	}
	if ev.ID == "" {
		// A provider that sends no delivery id gets a content hash: its
		// retries carry the same bytes, so they share the id.
		hashed := body
		if s.secretField != nil {
			hashed = ev.Payload // without the token
		}
		sum := sha256.Sum256(hashed)
		ev.ID = "sha256:" + hex.EncodeToString(sum[:])
	}
	return ev, nil
}

// identityEncoding refuses a body sent with a Content-Encoding other than
// identity (several values, or one repeated, included).
func identityEncoding(h http.Header) error {
	for _, v := range h.Values("Content-Encoding") {
		for _, coding := range strings.Split(v, ",") {
			if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
				return fmt.Errorf("%w: %.40q", ErrContentEncoding, c)
			}
		}
	}
	return nil
}

// singleHeader returns the named header, "" when absent; a repeated one is
// refused as verification refuses a repeated signature or id header (401):
// which copy a proxy puts first must not decide the event.
func singleHeader(h http.Header, name string) (string, error) {
	switch vs := h.Values(name); len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", fmt.Errorf("%w: %s is repeated", verify.ErrMalformedHeader, name)
}

// jsonPayload reads a JSON payload into ev: one strict reading for every
// function (package strictjson): a body that encoding/json would read
// differently from its bytes (duplicate names, text that is not UTF-8) is
// refused here, in the same pass that checks the syntax and finds the
// top-level fields (the id and type fields the preset names, or the usual
// ones), before any function acts on it.
func (s *source) jsonPayload(ev *event.Event, body []byte, id verify.Identity) error {
	idField, typeField := orDefault(id.IDField, "id"), id.TypeField
	var top struct{ id, eventID, typ, event, version, presetType []byte }
	err := strictjson.Validate(body, func(name, value []byte) {
		switch string(name) {
		case idField:
			top.id = value
		case "event_id":
			top.eventID = value
		case typeField:
			top.presetType = value
		case "type":
			top.typ = value
		case "event":
			top.event = value
		case "version":
			top.version = value
		}
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformedBody, err)
	}
	if !objectOrArray(body) {
		// A scalar has no id, type or field for a rule to read: Store
		// stored one that Relay's and Trigger's rules refused (422). Every
		// function takes the same shapes: an object, or an array (batches).
		return fmt.Errorf("%w: the payload is a JSON scalar, want an object or an array", ErrMalformedBody)
	}
	if s.secretField != nil {
		// The token has done its work: what is stored and what rules see
		// is the payload without it (and a content-hash id is not a hash
		// of the secret).
		if body, _, err = strictjson.Remove(body, s.secretField); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformedBody, err)
		}
	}
	ev.Payload = body
	switch {
	case ev.ID != "":
	case id.IDField == "event_id":
		ev.ID = scalar(top.eventID)
	case id.IDField != "":
		ev.ID = scalar(top.id)
	}
	for _, t := range [][]byte{top.presetType, top.typ, top.event} {
		if ev.Type == "" {
			ev.Type = scalar(t)
		}
	}
	ev.SchemaVersion = scalar(top.version)
	return nil
}

// objectOrArray reports whether valid JSON is an object or an array: its
// first byte after white space.
func objectOrArray(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// mediaType is the lower-case media type of a Content-Type value, without
// its parameters: what mime.ParseMediaType returns first, without building
// the parameter map on every request.
func mediaType(contentType string) string {
	t, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// scalar renders a JSON string or number field as text; anything else
// (object, array, bool, null, absent) is "".
func scalar(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		s, _ := strictjson.Unquote(raw)
		return string(s)
	case c == '-' || (c >= '0' && c <= '9'):
		// The literal itself: a 64-bit numeric id survives exactly, where
		// a float64 would round it.
		return string(raw)
	}
	return ""
}

// formJSON turns form fields into a JSON object: one value as a string,
// several as an array.
func formJSON(form url.Values) json.RawMessage {
	obj := make(map[string]any, len(form))
	for k, vs := range form {
		if len(vs) == 1 {
			obj[k] = vs[0]
		} else {
			obj[k] = vs
		}
	}
	b, _ := json.Marshal(obj) // strings and string slices always marshal
	return b
}
