package pipeline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// The attack: a source that verifies nothing and has no address allowlist
// is an open write endpoint; anyone who learns its URL posts events that
// the function stores, relays or acts on. Such a source must not start,
// and the error must name both fields, so the fix is evident.
func TestASourceThatVerifiesNothingDoesNotStartWithoutAnAllowlist(t *testing.T) {
	for _, tt := range []struct {
		name string
		vc   verify.Config
	}{
		{"scheme none", verify.Config{Scheme: verify.SchemeNone}},
		{"scheme none with a handshake", verify.Config{Scheme: verify.SchemeNone, Handshakes: []string{"graph"}}},
		{"a preset that signs nothing", verify.Config{Scheme: "microsoft-graph"}},
		{"an allowlist of every IPv4 address", verify.Config{Scheme: verify.SchemeNone, AllowCIDRs: []string{"0.0.0.0/0"}}},
		{"an allowlist of every IPv6 address", verify.Config{Scheme: verify.SchemeNone, AllowCIDRs: []string{"192.0.2.0/24", "::/0"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			fn := &config.Function{Sources: []config.Source{{Name: "open", Verify: tt.vc}}}
			h, err := New(context.Background(), fn, memSecrets{},
				func(context.Context, config.Source) (pattern.Pattern, error) { return rec, nil }, Options{})
			if err != nil {
				for _, want := range []string{`"open"`, "verify.scheme", "verify.allow_cidrs"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("New: %v, want an error naming %s", err, want)
					}
				}
				return
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/open", strings.NewReader(`{"forged":true}`)))
			t.Fatalf("the source started, and a stranger's unsigned POST was answered %d with %d event(s) reaching the function", w.Code, len(rec.events))
		})
	}
}

// With an allowlist the same source starts and refuses other addresses.
func TestASourceThatVerifiesNothingRefusesAddressesOutsideItsAllowlist(t *testing.T) {
	rec := &recorder{}
	fn := &config.Function{Sources: []config.Source{{Name: "open",
		Verify: verify.Config{Scheme: verify.SchemeNone, AllowCIDRs: []string{"198.51.100.0/24"}}}}} // httptest clients are 192.0.2.1
	h, err := New(context.Background(), fn, memSecrets{},
		func(context.Context, config.Source) (pattern.Pattern, error) { return rec, nil }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/open", strings.NewReader(`{"forged":true}`)))
	if w.Code != http.StatusForbidden || len(rec.events) != 0 {
		t.Fatalf("a POST from outside the allowlist: %d with %d event(s), want 403 and none", w.Code, len(rec.events))
	}
}
