package verify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// The token field scheme reads the token out of a body nobody has
// authenticated yet. An attacker posts large or deeply nested bodies with
// a forged token (or none): each is refused, and verifying it allocates
// less than the body's own size, so that requests cannot make an instance
// hold many times what they send (issue 13, finding 2: 4 bodies of 6 MiB
// of "[{},{},…]" took ~750 MiB when the body was decoded into maps).
func TestTokenFieldForgeriesCostLessThanTheirSize(t *testing.T) {
	const size = 2 << 20
	repeat := func(unit string) string { return strings.Repeat(unit, size/len(unit)) }
	tests := []struct {
		name, body string
		want       error
	}{
		{"array of empty objects", "[" + repeat("{},") + "{}]", verify.ErrMissingHeader},
		{"empty objects before a forged token", `{"pad":[` + repeat("{},") + `{}],"auth":{"token":"forged"}}`, verify.ErrBadSignature},
		{"many members before a forged token", `{"pad":{` + strings.TrimSuffix(manyMembers(size), ",") + `},"auth":{"token":"forged"}}`, verify.ErrBadSignature},
		// Deeper than any function accepts (strictjson.MaxDepth): refused
		// as it is read, before the token.
		{"nested arrays", `{"pad":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `,"auth":{"token":"forged"}}`, verify.ErrMissingHeader},
		{"nested objects", strings.Repeat(`{"auth":`, 9000) + `"x"` + strings.Repeat("}", 9000), verify.ErrMissingHeader},
		{"numbers before a forged token", `{"pad":[` + repeat("1.5,") + `0],"auth":{"token":"forged"}}`, verify.ErrBadSignature},
		{"a large forged token", `{"auth":{"token":"` + repeat("f") + `"}}`, verify.ErrBadSignature},
	}
	v := newVerifier(t, verify.Config{Scheme: "token", Field: "auth.token"}, "s3cr3t-token-0123456")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			const runs = 3
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range runs {
				r := httptest.NewRequest(http.MethodPost, "/inbody", nil)
				r.Header.Set("Content-Type", "application/json")
				if _, err := v.Verify(context.Background(), r, body); !errors.Is(err, tt.want) {
					t.Fatalf("Verify = %v, want %v", err, tt.want)
				}
			}
			runtime.ReadMemStats(&after)
			per := (after.TotalAlloc - before.TotalAlloc) / runs
			if per > uint64(len(body)) {
				t.Errorf("verifying a %d-byte body allocated %d bytes, want at most its size", len(body), per)
			}
			t.Logf("%d-byte body: %d bytes allocated per request", len(body), per)
		})
	}
}

// manyMembers is about size bytes of distinct members, "k0":0,"k1":0,…
func manyMembers(size int) string {
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		b.WriteString(`"k`)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(`":0,`)
	}
	return b.String()
}
