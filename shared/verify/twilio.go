package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"time"
)

// twilioScheme: "X-Twilio-Signature: <base64 HMAC-SHA1>" keyed with the
// account's auth token, over the full URL Twilio called followed by the
// form parameters sorted by name, each as name+value (Mandrill signs the
// same way under its own header). JSON bodies are signed over the URL
// alone, which then carries a bodySHA256 query parameter with the hex
// SHA-256 of the body; a body that is not form-encoded is refused without
// one.
//
// The URL is verify.url, the one configured at Twilio, with the query the
// request arrived with: never rebuilt from Host or X-Forwarded-*, since an
// auth token is account-wide and a request Twilio signed for another
// endpoint of the account would otherwise replay here with that Host. The
// form with and without the default port is tried, as Twilio's own
// libraries do.
type twilioScheme struct {
	p      Provider
	header string
	base   string
}

func newTwilio(p Provider, cfg Config) (scheme, error) {
	if err := checkPublicURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("verify.url: scheme %s signs the URL it calls: %w", p.Name, err)
	}
	return twilioScheme{p: p, header: textproto.CanonicalMIMEHeaderKey(orDefault(cfg.Header, p.Header)), base: cfg.URL}, nil
}

func (twilioScheme) needsSecret() bool { return true }

func (s twilioScheme) decodeKey(line []byte) (key, error) {
	return decodeKeyFormat(KeyRaw, line, s.p.MinKeyLen)
}

// urls are the spellings of the URL that Twilio may have signed: as
// configured, and with the default port added or removed.
func (s twilioScheme) urls(r *http.Request) []string {
	signed := signedURL(s.base, r)
	u, err := url.Parse(signed)
	if err != nil {
		return []string{signed}
	}
	other := *u
	def := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	if u.Port() == "" {
		other.Host = u.Host + ":" + def
	} else if u.Port() == def {
		other.Host = u.Hostname()
	} else {
		return []string{signed}
	}
	return []string{signed, other.String()}
}

// twilioContent returns what Twilio appended to the URL it signed: the
// form parameters, sorted, of a form-encoded body; nothing when the body is
// bound to the URL by a bodySHA256 parameter, which then must match.
func twilioContent(r *http.Request, body []byte) ([]byte, error) {
	q, _ := url.ParseQuery(rawQuery(r))
	if sums, present := q["bodySHA256"]; present {
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

func (s twilioScheme) verify(in *input, keys []key) (Identity, error) {
	v, err := in.header(s.header)
	if err != nil {
		return Identity{}, err
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(sig) != sha1.Size {
		return Identity{}, fmt.Errorf("%w: %s is not base64 HMAC-SHA1", ErrMalformedHeader, s.header)
	}
	content, err := twilioContent(in.r, in.body)
	if err != nil {
		return Identity{}, err
	}
	for _, u := range s.urls(in.r) {
		for _, k := range keys {
			if hmac.Equal(hmacSum(sha1.New, k.secret, []byte(u), content), sig) {
				return headerIdentity(in.r, s.p)
			}
		}
	}
	return Identity{}, ErrBadSignature
}

func (s twilioScheme) sign(r *http.Request, body, line []byte, _ time.Time) error {
	k, err := s.decodeKey(line)
	if err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		sum := sha256.Sum256(body)
		q := r.URL.Query()
		q.Set("bodySHA256", hex.EncodeToString(sum[:]))
		r.URL.RawQuery = q.Encode()
		r.RequestURI = ""
	}
	content, err := twilioContent(r, body)
	if err != nil {
		return err
	}
	r.Header.Set(s.header, base64.StdEncoding.EncodeToString(hmacSum(sha1.New, k.secret, []byte(signedURL(s.base, r)), content)))
	return nil
}
