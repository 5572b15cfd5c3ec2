// Package pipelinetest is the malformed-input battery that every function
// (Store, Relay, Trigger) runs against its real handler: one table of
// requests, each with the one status every function must answer, so that
// the functions read a request one way. A function's test builds its
// handler over Source with Secrets and its own pattern, then:
//
//	pipelinetest.RunReadingBattery(t, handler)
//
// The cases are signed GitHub deliveries (the signature, delivery id and
// event type are headers): repeated headers in either order, identity
// headers that are not UTF-8, content encodings, and every top-level JSON
// shape. A function's rules for the battery must match a push and read
// nothing from the payload, so that what is asserted is the pipeline's
// reading, not a rule's.
package pipelinetest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// key is the signing key of Source.
const key = "pipelinetest-reading-battery-key"

// Source is the source every function serves for the battery: GitHub's
// scheme, at /github.
func Source() config.Source {
	return config.Source{Name: "github", Verify: verify.Config{Scheme: "github", Secret: "env:PIPELINETEST_KEY"}}
}

// Secrets holds Source's key.
var Secrets verify.SecretSource = secretSource{}

type secretSource struct{}

func (secretSource) Secret(_ context.Context, ref string) ([]byte, error) {
	if ref != Source().Verify.Secret {
		return nil, fmt.Errorf("pipelinetest: no secret %s", ref)
	}
	return []byte(key), nil
}

// Case is one request of the battery and the status every function
// answers it with.
type Case struct {
	Name string
	Want int
	// request builds the request; id is a delivery id of its own.
	request func(t testing.TB, id string) *http.Request
}

// delivery is a GitHub push of body, signed, with headers set by edit
// after signing (edit may be nil).
func delivery(body string, edit func(r *http.Request)) func(testing.TB, string) *http.Request {
	return func(t testing.TB, id string) *http.Request {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/"+Source().Name, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(verify.HeaderGitHubEvent, "push")
		r.Header.Set(verify.HeaderGitHubDelivery, id)
		if err := verify.Sign(Source().Verify, []byte(key), time.Now(), r, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(r)
		}
		return r
	}
}

// repeat makes header carry its signed value and other, in that order, or
// other first when otherFirst.
func repeat(header, other string, otherFirst bool) func(r *http.Request) {
	header = http.CanonicalHeaderKey(header) // as net/http's server keys it
	return func(r *http.Request) {
		v := r.Header.Get(header)
		if otherFirst {
			r.Header[header] = []string{other, v}
		} else {
			r.Header[header] = []string{v, other}
		}
	}
}

func set(header, value string) func(r *http.Request) {
	return func(r *http.Request) { r.Header.Set(header, value) }
}

// forged is a signature of the same scheme that no key made.
const forged = "sha256=0000000000000000000000000000000000000000000000000000000000000000"

const push = `{"ref":"refs/heads/main"}`

// Cases returns the battery.
func Cases() []Case {
	sig, dlv, typ := verify.HeaderGitHubSignature, verify.HeaderGitHubDelivery, verify.HeaderGitHubEvent
	return []Case{
		{"a signed push is accepted", http.StatusOK, delivery(push, nil)},

		// Which copy a proxy puts first must not decide the answer.
		{"signature repeated, good copy first", http.StatusUnauthorized, delivery(push, repeat(sig, forged, false))},
		{"signature repeated, good copy last", http.StatusUnauthorized, delivery(push, repeat(sig, forged, true))},
		{"delivery id repeated, signed copy first", http.StatusUnauthorized, delivery(push, repeat(dlv, "d-other", false))},
		{"delivery id repeated, signed copy last", http.StatusUnauthorized, delivery(push, repeat(dlv, "d-other", true))},
		{"event type repeated, push first", http.StatusUnauthorized, delivery(push, repeat(typ, "ping", false))},
		{"event type repeated, ping first", http.StatusUnauthorized, delivery(push, repeat(typ, "ping", true))},
		{"schema version repeated", http.StatusUnauthorized, delivery(push, func(r *http.Request) {
			r.Header["X-Webhook-Version"] = []string{"1", "2"}
		})},

		// An id or type that is not text is refused, never rewritten
		// (U+FFFD) by one function and kept by another.
		{"delivery id with a Latin-1 byte", http.StatusBadRequest, delivery(push, set(dlv, "d-caf\xe9"))},
		{"event type with a Latin-1 byte", http.StatusBadRequest, delivery(push, set(typ, "push\xe9"))},
		{"schema version with a Latin-1 byte", http.StatusBadRequest, delivery(push, set("X-Webhook-Version", "v\xe9"))},

		// The body is read as it is sent: an encoding the pipeline does
		// not undo is refused, not read as plain bytes.
		{"content encoding identity", http.StatusOK, delivery(push, set("Content-Encoding", "identity"))},
		{"content encoding gzip on a plain body", http.StatusUnsupportedMediaType, delivery(push, set("Content-Encoding", "gzip"))},
		{"content encoding br", http.StatusUnsupportedMediaType, delivery(push, set("Content-Encoding", "br"))},
		{"content encoding repeated", http.StatusUnsupportedMediaType, delivery(push, func(r *http.Request) {
			r.Header["Content-Encoding"] = []string{"identity", "gzip"}
		})},

		// Every function takes the same top-level shapes: an object, or an
		// array (batches: SendGrid, Mandrill); a scalar is not an event.
		{"array body is accepted", http.StatusOK, delivery(`[{"ref":"refs/heads/main"}]`, nil)},
		{"string body", http.StatusBadRequest, delivery(`"refs/heads/main"`, nil)},
		{"empty body", http.StatusBadRequest, delivery(``, nil)},
		// A body that is a bare token (a number, true, null) is refused
		// before it is read: X's crc handshake signs such a string for
		// anyone, so its signature proves nothing (package verify).
		{"number body", http.StatusUnauthorized, delivery(`42`, nil)},
		{"true body", http.StatusUnauthorized, delivery(`true`, nil)},
		{"null body", http.StatusUnauthorized, delivery(`null`, nil)},
	}
}

// RunReadingBattery serves every case with h and asserts its status.
func RunReadingBattery(t *testing.T, h http.Handler) {
	t.Helper()
	for i, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, c.request(t, fmt.Sprintf("battery-%d-%d", i, time.Now().UnixNano())))
			if w.Code != c.Want {
				t.Errorf("status %d, want %d (body %s)", w.Code, c.Want, strings.TrimSpace(w.Body.String()))
			}
		})
	}
}
