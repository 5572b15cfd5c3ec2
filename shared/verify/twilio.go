package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// twilioScheme: "X-Twilio-Signature: <base64 HMAC-SHA1>" keyed with the
// account's auth token, over the full URL Twilio called followed by the
// form parameters sorted by name, each as name+value. JSON bodies are
// signed over the URL alone, which then carries a bodySHA256 query
// parameter with the hex SHA-256 of the body; a body that is not
// form-encoded is refused without one.
//
// Twilio signs the https URL it called. Behind Cloud Run's front end the
// request arrives as plain HTTP on an internal address, so the URL is
// rebuilt as "https://" + Host + path and query; both the form with and
// without ":443" are tried, as Twilio's own libraries do.
type twilioScheme struct{ rawKey }

// twilioURL is the URL Twilio signed, as seen behind a TLS-terminating
// front end.
func twilioURL(r *http.Request) string {
	return "https://" + r.Host + requestURI(r)
}

// requestURI is the path and query that the client asked for: the request
// line as received (a server request's RequestURI), which a router that
// strips a prefix before the handler (the local runner's /store/…) leaves
// alone; r.URL's for a request being built (signing).
func requestURI(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// twilioURLs are the spellings of the URL that Twilio may have signed.
func twilioURLs(r *http.Request) []string {
	u := twilioURL(r)
	host, port, err := net.SplitHostPort(r.Host)
	switch {
	case err != nil: // no port: Twilio may have signed it with :443
		return []string{u, "https://" + r.Host + ":443" + requestURI(r)}
	case port == "443":
		return []string{u, "https://" + host + requestURI(r)}
	}
	return []string{u}
}

// twilioContent returns what Twilio appended to the URL it signed: the
// form parameters, sorted, of a form-encoded body; nothing when the body is
// bound to the URL by a bodySHA256 parameter, which then must match.
//
// A body that is not form-encoded (JSON, text, no Content-Type) is signed
// only through bodySHA256: without it, or with it empty, the signature
// covers the URL alone and any body would pass, so it is refused.
func twilioContent(r *http.Request, body []byte) ([]byte, error) {
	if sums, present := r.URL.Query()["bodySHA256"]; present {
		if len(sums) != 1 || sums[0] == "" {
			return nil, fmt.Errorf("%w: bodySHA256 must be given once, not empty", ErrMalformedHeader)
		}
		sum := sha256.Sum256(body)
		got, err := hex.DecodeString(sums[0])
		if err != nil || !hmac.Equal(got, sum[:]) {
			return nil, fmt.Errorf("%w: bodySHA256 does not match the body", ErrBadSignature)
		}
		return nil, nil
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("%w: bodySHA256 (a body that is not form-encoded is signed only through it)", ErrMissingHeader)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: form body: %w", ErrMalformedHeader, err)
	}
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		vs := append([]string(nil), form[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	return []byte(b.String()), nil
}

func (twilioScheme) verify(in *input, keys [][]byte) (Identity, error) {
	v, err := in.header(HeaderTwilioSignature)
	if err != nil {
		return Identity{}, err
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(sig) != sha1.Size {
		return Identity{}, fmt.Errorf("%w: %s is not base64 HMAC-SHA1", ErrMalformedHeader, HeaderTwilioSignature)
	}
	content, err := twilioContent(in.r, in.body)
	if err != nil {
		return Identity{}, err
	}
	for _, u := range twilioURLs(in.r) {
		for _, k := range keys {
			if hmac.Equal(mac(sha1.New, k, []byte(u), content), sig) {
				return Identity{ID: in.r.Header.Get(HeaderTwilioIdempo)}, nil
			}
		}
	}
	return Identity{}, ErrBadSignature
}

func (twilioScheme) sign(r *http.Request, body, key []byte, _ time.Time) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		sum := sha256.Sum256(body)
		q := r.URL.Query()
		q.Set("bodySHA256", hex.EncodeToString(sum[:]))
		r.URL.RawQuery = q.Encode()
	}
	content, err := twilioContent(r, body)
	if err != nil {
		return err
	}
	r.Header.Set(HeaderTwilioSignature, base64.StdEncoding.EncodeToString(mac(sha1.New, key, []byte(twilioURL(r)), content)))
	return nil
}
