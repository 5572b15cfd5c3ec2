package pipeline

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
			strict := errors.Is(err, strictjson.ErrDuplicateName) || errors.Is(err, strictjson.ErrInvalidUTF8)
			if mt := mediaType(contentType); (mt == "" || mt == "application/json") && json.Valid([]byte(body)) && !strict {
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
