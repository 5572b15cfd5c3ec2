package pipeline

import (
	"bytes"
	"net/http"
	"strings"
)

// droppedHeaders carry transport or infrastructure detail, not the event.
var droppedHeaders = map[string]bool{
	"Accept-Encoding": true, "Connection": true, "Content-Length": true,
	"Forwarded": true, "Traceparent": true, "Tracestate": true, "Via": true,
	"X-Cloud-Trace-Context": true,
}

// credentialWords are the one list of what marks a header as a credential,
// never kept in an event, whatever the provider or the platform calls it:
// X-Hub-Signature-256, X-Gitlab-Token, Secret, Authorization,
// X-Serverless-Authorization, Proxy-Authorization, X-Api-Key, Cookie,
// X-Shopify-Hmac-Sha256, X-Goog-Iap-Jwt-Assertion (the signed identity
// that Identity-Aware Proxy adds)... A source's own verify.header is
// dropped too, whatever its name.
var credentialWords = [][]byte{
	[]byte("signature"), []byte("secret"), []byte("token"), []byte("auth"), []byte("hmac"),
	[]byte("password"), []byte("key"), []byte("cookie"), []byte("credential"),
	[]byte("jwt"), []byte("assertion"),
}

func (s *source) keptHeaders(h http.Header) map[string]string {
	kept := make(map[string]string, len(h))
	for name, values := range h {
		if name == s.secretHeader || droppedHeaders[name] || strings.HasPrefix(name, "X-Forwarded-") {
			continue
		}
		if credentialHeader(name) {
			continue
		}
		if len(values) == 1 {
			kept[name] = values[0]
		} else {
			kept[name] = strings.Join(values, ", ")
		}
	}
	return kept
}

// CredentialHeader reports whether a header of this name carries a
// credential (a signature, token, password, key, cookie...) by the list
// that keeps them out of every event, for tools that show requests.
func CredentialHeader(name string) bool {
	return credentialHeader(http.CanonicalHeaderKey(name))
}

// credentialHeader is CredentialHeader of a canonical name.
func credentialHeader(name string) bool {
	// Idempotency-Key is a delivery id, not a key.
	return name != "Idempotency-Key" && containsFold(name, credentialWords)
}

// containsFold reports whether s holds any of the lower-case ASCII words,
// ignoring case. Header names are short: lower-casing into a stack buffer
// spares an allocation per header of every request.
func containsFold(s string, words [][]byte) bool {
	var buf [128]byte
	lower := buf[:0]
	if len(s) > len(buf) {
		lower = make([]byte, 0, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	for _, w := range words {
		if bytes.Contains(lower, w) {
			return true
		}
	}
	return false
}
