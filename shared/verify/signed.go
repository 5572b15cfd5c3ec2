package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudhooks/webhooks/shared/strictjson"
	"github.com/cloudhooks/webhooks/shared/verify/handshake"
)

// signedScheme is every family that signs a byte template with one
// algorithm: HMAC (body, timestamped and URL-bound layouts), Ed25519,
// ECDSA P-256 and RSA. A Provider row says which bytes, which header
// layout, which encodings; the algorithm is the only part that differs.
type signedScheme struct {
	p        Provider
	header   string // canonical signature header
	alt      []string
	enc      string
	hash     crypto.Hash
	newHash  func() hash.Hash
	alg      algorithm
	pre      []part // the template before {body}
	post     []part // and after
	hasBody  bool
	url      string // verify.url: the public URL, for {url}
	timeHdr  string
	timeFld  []string
	idHdrs   []string
	typeHdr  string
	bodyOnly bool // the template is {body} alone: a CRC token must not verify
}

// part is one piece of a content template: literal bytes or a value of
// the request.
type part struct {
	lit   string
	value string // "timestamp", "id", "url", "method", "header:Name"
}

// parseTemplate splits a content template ("{timestamp}.{body}") at
// {body}, checking every placeholder.
func parseTemplate(t string) (pre, post []part, hasBody bool, err error) {
	cur := &pre
	for t != "" {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			*cur = append(*cur, part{lit: t})
			break
		}
		if i > 0 {
			*cur = append(*cur, part{lit: t[:i]})
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			return nil, nil, false, fmt.Errorf("content %q: unclosed {", t)
		}
		name := t[i+1 : i+j]
		t = t[i+j+1:]
		switch {
		case name == "body":
			if hasBody {
				return nil, nil, false, errors.New("content: {body} twice")
			}
			hasBody, cur = true, &post
		case name == "timestamp", name == "id", name == "url", name == "method":
			*cur = append(*cur, part{value: name})
		case strings.HasPrefix(name, "header:") && len(name) > len("header:"):
			*cur = append(*cur, part{value: "header:" + textproto.CanonicalMIMEHeaderKey(name[len("header:"):])})
		default:
			return nil, nil, false, fmt.Errorf("content: unknown placeholder {%s}", name)
		}
	}
	return pre, post, hasBody, nil
}

func uses(parts []part, value string) bool {
	for _, p := range parts {
		if p.value == value {
			return true
		}
	}
	return false
}

var hashes = map[string]crypto.Hash{"sha1": crypto.SHA1, "sha256": crypto.SHA256, "sha512": crypto.SHA512}

var hashFuncs = map[crypto.Hash]func() hash.Hash{crypto.SHA1: sha1.New, crypto.SHA256: sha256.New, crypto.SHA512: sha512.New}

func newSigned(p Provider, cfg Config) (scheme, error) {
	s := &signedScheme{p: p, header: textproto.CanonicalMIMEHeaderKey(orDefault(cfg.Header, p.Header)), enc: p.Encoding}
	for _, a := range p.AltHeaders {
		s.alt = append(s.alt, textproto.CanonicalMIMEHeaderKey(a))
	}
	if s.header == "" && p.SigParam == "" {
		return nil, fmt.Errorf("verify.header: scheme %s needs the signature header's name", p.Name)
	}
	var ok bool
	if s.hash, ok = hashes[orDefault(p.Hash, "sha256")]; !ok {
		return nil, fmt.Errorf("verify.algorithm: %q is not sha1, sha256 or sha512", p.Hash)
	}
	s.newHash = hashFuncs[s.hash]
	switch s.enc {
	case "":
		s.enc = "hex"
	case "hex", "base64", "base64url":
	default:
		return nil, fmt.Errorf("verify.encoding: %q is not hex, base64 or base64url", p.Encoding)
	}
	switch p.Family {
	case FamilyHMAC:
		s.alg = hmacAlg{s.newHash}
		if p.KeyedHash {
			s.alg = keyedHashAlg{s.newHash}
		}
	case FamilyEd25519:
		s.alg = ed25519Alg{}
	case FamilyECDSA:
		s.alg = ecdsaAlg{s.hash}
	case FamilyRSA:
		s.alg = rsaAlg{s.hash, p.Padding == "pss"}
	default:
		return nil, fmt.Errorf("verify.scheme: family %q is not a signed family", p.Family)
	}
	var err error
	content := orDefault(p.Content, "{body}")
	if s.pre, s.post, s.hasBody, err = parseTemplate(content); err != nil {
		return nil, fmt.Errorf("verify.scheme: %s: %w", p.Name, err)
	}
	s.bodyOnly = content == "{body}" && p.Family == FamilyHMAC
	if uses(s.pre, "url") || uses(s.post, "url") {
		if err := checkPublicURL(cfg.URL); err != nil {
			return nil, fmt.Errorf("verify.url: scheme %s signs the URL it calls: %w", p.Name, err)
		}
		s.url = cfg.URL
	} else if cfg.URL != "" {
		return nil, fmt.Errorf("verify.url: scheme %s does not sign a URL", p.Name)
	}
	s.timeHdr = textproto.CanonicalMIMEHeaderKey(p.TimeHeader)
	if p.TimeField != "" {
		s.timeFld = strings.Split(p.TimeField, ".")
	}
	signsTime := uses(s.pre, "timestamp") || uses(s.post, "timestamp")
	if signsTime && s.timeHdr == "" && p.TimeKey == "" {
		return nil, fmt.Errorf("verify.scheme: %s signs {timestamp} but names no timestamp header or key", p.Name)
	}
	for _, h := range p.IDHeaders {
		s.idHdrs = append(s.idHdrs, textproto.CanonicalMIMEHeaderKey(h))
	}
	s.typeHdr = textproto.CanonicalMIMEHeaderKey(p.TypeHeader)
	switch p.Layout {
	case "", LayoutPlain, LayoutList, LayoutPositional, LayoutMulti:
	case LayoutPairs:
		if p.SigKey == "" {
			return nil, fmt.Errorf("verify.scheme: %s: a pairs layout needs the signature's key", p.Name)
		}
	default:
		return nil, fmt.Errorf("verify.scheme: %s: unknown layout %q", p.Name, p.Layout)
	}
	return s, nil
}

// checkPublicURL checks verify.url: the https URL the provider was given,
// which URL-bound schemes sign. It is configuration, never rebuilt from the
// request's Host or X-Forwarded-* headers, which whoever replays a request
// signed for another endpoint of the same account chooses.
func checkPublicURL(raw string) error {
	if raw == "" {
		return errors.New("required: the public URL the provider was configured with")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: give the URL without query or fragment; the request's query is appended as sent", raw)
	}
	return nil
}

// signedURL is the URL a provider signed: verify.url and the query the
// request arrived with.
func signedURL(base string, r *http.Request) string {
	if q := rawQuery(r); q != "" {
		return base + "?" + q
	}
	return base
}

// rawQuery is the query as the client sent it: the request line's (a
// router that strips a path prefix leaves RequestURI alone), r.URL's when
// signing.
func rawQuery(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		_, q, _ := strings.Cut(r.RequestURI, "?")
		return q
	}
	return r.URL.RawQuery
}

func (s *signedScheme) needsSecret() bool { return true }

func (s *signedScheme) decodeKey(line []byte) (key, error) {
	f := s.p.Key
	switch {
	case s.p.Family == FamilyEd25519 && f == "":
		f = KeyEd25519Hex
	case (s.p.Family == FamilyECDSA || s.p.Family == FamilyRSA) && f == "":
		f = KeySPKI
	}
	k, err := decodeKeyFormat(f, line, s.p.MinKeyLen)
	if err != nil {
		return key{}, err
	}
	if (k.public == nil) != (s.p.Family == FamilyHMAC) {
		return key{}, fmt.Errorf("a %s key is needed", s.p.Family)
	}
	if !s.alg.fits(k) {
		return key{}, fmt.Errorf("the key is not a %s key", s.p.Family)
	}
	return k, nil
}

var sigBufs = sync.Pool{New: func() any { return new([maxSigs][512]byte) }}

// maxSigs bounds the signatures read from one request (rotation sends
// two or three); more is a malformed header, not more work.
const maxSigs = 8

// sigValues returns the signature header's values: one header, refused
// when repeated (the answer must not depend on which copy a proxy keeps
// first), or the numbered headers of the multi layout.
func (s *signedScheme) sigValues(in *input) ([]string, error) {
	if s.p.Layout == LayoutMulti {
		var vs []string
		for i := 1; i <= maxSigs; i++ {
			v, err := in.optionalHeader(s.header + "-" + strconv.Itoa(i))
			if err != nil {
				return nil, err
			}
			if v == "" {
				break
			}
			vs = append(vs, v)
		}
		if len(vs) == 0 {
			return nil, fmt.Errorf("%w: %s-1", ErrMissingHeader, s.header)
		}
		return vs, nil
	}
	if s.p.SigParam != "" {
		// PandaDoc: the signature is a query parameter of the URL it calls.
		vs := in.r.URL.Query()[s.p.SigParam]
		switch len(vs) {
		case 0:
			return nil, fmt.Errorf("%w: query parameter %s", ErrMissingHeader, s.p.SigParam)
		case 1:
			return vs, nil
		}
		return nil, fmt.Errorf("%w: query parameter %s is repeated", ErrMalformedHeader, s.p.SigParam)
	}
	v, err := in.optionalHeader(s.header)
	if err != nil {
		return nil, err
	}
	for _, a := range s.alt {
		if v != "" {
			break
		}
		if v, err = in.optionalHeader(a); err != nil {
			return nil, err
		}
	}
	if v == "" {
		return nil, fmt.Errorf("%w: %s", ErrMissingHeader, s.header)
	}
	return []string{v}, nil
}

// parse reads the signatures, and the timestamp where the header carries
// it, from the header values by the row's layout.
func (s *signedScheme) parse(values []string) (sigs []string, ts string, err error) {
	p := s.p
	switch p.Layout {
	case LayoutPairs:
		sep := orDefault(p.PairSep, ",")
		for _, v := range values {
			for rest := v; rest != ""; {
				var item string
				item, rest, _ = strings.Cut(rest, sep)
				k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
				switch {
				case !ok:
				case k == p.TimeKey && p.TimeKey != "":
					if ts != "" {
						return nil, "", fmt.Errorf("%w: %s has two %s= values", ErrMalformedHeader, s.header, k)
					}
					ts = val
				case k == p.SigKey:
					sigs = append(sigs, val)
				}
			}
		}
	case LayoutList, LayoutPositional:
		sep := orDefault(p.ListSep, ",")
		for _, v := range values {
			items := strings.Split(v, sep)
			if p.Layout == LayoutPositional {
				ts, items = strings.TrimSpace(items[0]), items[1:]
			}
			for _, it := range items {
				if it = strings.TrimSpace(it); it != "" {
					sigs = append(sigs, it)
				}
			}
		}
	default:
		sigs = values
	}
	if len(sigs) == 0 || len(sigs) > maxSigs {
		return nil, "", fmt.Errorf("%w: %s holds %d signatures", ErrMalformedHeader, s.header, len(sigs))
	}
	return sigs, ts, nil
}

// decodeSig decodes one signature by the row's prefix and encoding into
// buf, or reports that it is not one.
func (s *signedScheme) decodeSig(v string, buf []byte) ([]byte, bool) {
	if s.p.Prefix != "" {
		rest, ok := cutPrefixFold(v, s.p.Prefix)
		if !ok {
			return nil, false
		}
		v = rest
	}
	v = strings.TrimSpace(v)
	var n int
	var err error
	switch s.enc {
	case "hex":
		if len(v) > 2*len(buf) {
			return nil, false
		}
		n, err = hex.Decode(buf, []byte(v))
	default:
		enc := base64.StdEncoding
		if s.enc == "base64url" || strings.ContainsAny(v, "-_") {
			enc = base64.URLEncoding
		}
		if !strings.HasSuffix(v, "=") {
			enc = enc.WithPadding(base64.NoPadding)
		}
		if enc.DecodedLen(len(v)) > len(buf) {
			return nil, false
		}
		n, err = enc.Decode(buf, []byte(v))
	}
	if err != nil || !s.alg.sizeOK(n) {
		return nil, false
	}
	return buf[:n], true
}

func (s *signedScheme) verify(in *input, keys []key) (Identity, error) {
	values, err := s.sigValues(in)
	if err != nil {
		return Identity{}, err
	}
	raw, ts, err := s.parse(values)
	if err != nil {
		return Identity{}, err
	}
	if s.timeHdr != "" {
		if ts, err = in.header(s.timeHdr); err != nil {
			return Identity{}, err
		}
	}
	var signedAt time.Time
	if ts != "" {
		if signedAt, err = parseTime(s.p.TimeUnit, ts); err != nil {
			return Identity{}, err
		}
	} else if s.p.TimeKey != "" {
		return Identity{}, fmt.Errorf("%w: %s has no %s= value", ErrMalformedHeader, s.header, s.p.TimeKey)
	}
	if s.bodyOnly && handshake.ValidCRCToken(in.body) {
		// X's crc handshake answers the HMAC-SHA256 of such a string to
		// whoever asks; under a key that a source of any scheme shares
		// with it, the reply would verify as this body's signature.
		return Identity{}, fmt.Errorf("%w: the body is a CRC token, which the crc handshake signs for anyone", ErrBadSignature)
	}
	// The decoded signatures reach the algorithm through an interface, so
	// a stack buffer would escape: a pooled one saves 4 KiB per request.
	bufs := sigBufs.Get().(*[maxSigs][512]byte)
	defer sigBufs.Put(bufs)
	sigs := make([][]byte, 0, len(raw))
	for i, v := range raw {
		if sig, ok := s.decodeSig(v, bufs[i][:]); ok {
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 {
		if s.p.Prefix != "" && !slices.ContainsFunc(raw, func(v string) bool { _, ok := cutPrefixFold(v, s.p.Prefix); return ok }) {
			return Identity{}, fmt.Errorf("%w: %s does not start with %q", ErrMalformedHeader, s.header, s.p.Prefix)
		}
		return Identity{}, fmt.Errorf("%w: %s is not a %s %s signature", ErrMalformedHeader, s.header, s.enc, s.p.Family)
	}
	id, err := s.values(in.r, ts)
	if err != nil {
		return Identity{}, err
	}
	if err := s.signedHeadersOnce(in); err != nil {
		return Identity{}, err
	}
	pre, post := s.render(in.r, ts, id, s.url)
	if !s.alg.match(keys, pre, in.body, post, sigs) {
		return Identity{}, ErrBadSignature
	}
	if s.timeFld != nil {
		// The body is authenticated now: its timestamp field can be
		// trusted (Linear's webhookTimestamp, in milliseconds).
		rawTS, _, found, err := strictjson.Find(in.body, s.timeFld)
		if err != nil || !found {
			return Identity{}, fmt.Errorf("%w: the signed body has no %s", ErrMalformedHeader, s.p.TimeField)
		}
		text := string(rawTS)
		if u, ok := strictjson.Unquote(rawTS); ok {
			text = string(u)
		}
		if signedAt, err = parseTime(s.p.TimeUnit, text); err != nil {
			return Identity{}, err
		}
	}
	if !signedAt.IsZero() {
		if err := in.fresh(signedAt); err != nil {
			return Identity{}, err
		}
	}
	out := Identity{ID: id, IDField: s.p.IDField, TypeField: s.p.TypeField, Timestamp: signedAt}
	if s.typeHdr != "" {
		// A repeated type is refused: with the first copy read, "ping"
		// first acknowledged what "push" first stored.
		if out.Type, err = in.optionalHeader(s.typeHdr); err != nil {
			return Identity{}, err
		}
	}
	out.Acknowledge = s.p.PingType != "" && out.Type == s.p.PingType
	return out, nil
}

// values returns the event id from the row's id headers (the first one
// present), refusing a repeated one.
func (s *signedScheme) values(r *http.Request, _ string) (string, error) {
	for _, h := range s.idHdrs {
		vs := r.Header[h]
		if len(vs) > 1 {
			return "", fmt.Errorf("%w: %s is repeated", ErrMalformedHeader, h)
		}
		if len(vs) == 1 && vs[0] != "" {
			return vs[0], nil
		}
	}
	return "", nil
}

// signedHeadersOnce refuses a request in which a header that the signed
// template names is repeated: render signs the first copy, and which copy
// comes first is a proxy's choice.
func (s *signedScheme) signedHeadersOnce(in *input) error {
	for _, parts := range [][]part{s.pre, s.post} {
		for _, p := range parts {
			if name, ok := strings.CutPrefix(p.value, "header:"); ok {
				if _, err := in.optionalHeader(name); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// render builds the bytes of the template around the body, in one
// allocation.
func (s *signedScheme) render(r *http.Request, ts, id, base string) (pre, post []byte) {
	if len(s.pre) == 0 && len(s.post) == 0 {
		return nil, nil
	}
	buf := make([]byte, 0, 128)
	add := func(parts []part) {
		for _, p := range parts {
			switch p.value {
			case "":
				buf = append(buf, p.lit...)
			case "timestamp":
				buf = append(buf, ts...)
			case "id":
				buf = append(buf, id...)
			case "url":
				buf = append(buf, signedURL(base, r)...)
			case "method":
				buf = append(buf, r.Method...)
			default:
				buf = append(buf, r.Header.Get(strings.TrimPrefix(p.value, "header:"))...)
			}
		}
	}
	add(s.pre)
	n := len(buf)
	add(s.post)
	return buf[:n:n], buf[n:]
}

func (s *signedScheme) sign(r *http.Request, body, line []byte, now time.Time) error {
	p := s.p
	ts := ""
	if p.TimeHeader != "" || p.TimeKey != "" {
		ts = formatTime(p.TimeUnit, now)
		if p.TimeHeader != "" {
			r.Header.Set(p.TimeHeader, ts)
		}
	}
	id := ""
	if len(s.idHdrs) > 0 {
		if id = r.Header.Get(s.idHdrs[0]); id == "" && (uses(s.pre, "id") || uses(s.post, "id")) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = "msg_" + hex.EncodeToString(b)
			r.Header.Set(s.idHdrs[0], id)
		}
	}
	var sig []byte
	if p.Family == FamilyHMAC {
		k, err := s.decodeKey(line)
		if err != nil {
			return err
		}
		pre, post := s.render(r, ts, id, s.url)
		if p.KeyedHash {
			sig = keyedHash(s.newHash, k.secret, pre, body, post)
		} else {
			sig = hmacSum(s.newHash, k.secret, pre, body, post)
		}
	} else {
		signer, err := parsePrivateKey(line)
		if err != nil {
			return err
		}
		pre, post := s.render(r, ts, id, s.url)
		if sig, err = s.alg.sign(signer, pre, body, post); err != nil {
			return err
		}
	}
	enc := p.Prefix + encodeSig(s.enc, sig)
	switch p.Layout {
	case LayoutPairs:
		sep := orDefault(p.PairSep, ",")
		v := p.SigKey + "=" + enc
		if p.TimeKey != "" {
			v = p.TimeKey + "=" + ts + sep + v
		}
		r.Header.Set(s.header, v)
	case LayoutPositional:
		r.Header.Set(s.header, ts+orDefault(p.ListSep, ",")+enc)
	case LayoutMulti:
		r.Header.Set(s.header+"-1", enc)
	default:
		if p.SigParam != "" {
			q := r.URL.Query()
			q.Set(p.SigParam, enc)
			r.URL.RawQuery = q.Encode()
			r.RequestURI = r.URL.RequestURI()
			return nil
		}
		r.Header.Set(s.header, enc)
	}
	return nil
}

func encodeSig(enc string, sig []byte) string {
	switch enc {
	case "hex":
		return hex.EncodeToString(sig)
	case "base64url":
		return base64.RawURLEncoding.EncodeToString(sig)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// Time units of Provider.TimeUnit.
const (
	UnitSeconds = "s"
	UnitMillis  = "ms"
	UnitRFC3339 = "rfc3339"
)

// parseTime reads a signed timestamp in its unit. A value of the wrong
// unit (milliseconds where seconds are expected) is not guessed at: it
// reads as a time far from now and fails the tolerance.
func parseTime(unit, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch unit {
	case UnitRFC3339:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("%w: timestamp %q is not RFC 3339", ErrMalformedHeader, s)
	case UnitMillis:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("%w: timestamp %q is not Unix milliseconds", ErrMalformedHeader, s)
		}
		return time.UnixMilli(n), nil
	}
	return unixTime(s)
}

func formatTime(unit string, t time.Time) string {
	switch unit {
	case UnitRFC3339:
		return t.UTC().Format(time.RFC3339Nano)
	case UnitMillis:
		return strconv.FormatInt(t.UnixMilli(), 10)
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// algorithm is the check a signedScheme makes over the rendered bytes.
type algorithm interface {
	fits(k key) bool
	sizeOK(n int) bool
	match(keys []key, pre, body, post []byte, sigs [][]byte) bool
	sign(k crypto.Signer, pre, body, post []byte) ([]byte, error)
}

func hmacSum(h func() hash.Hash, secret []byte, parts ...[]byte) []byte {
	m := hmac.New(h, secret)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

type hmacAlg struct{ h func() hash.Hash }

func (a hmacAlg) fits(k key) bool { return k.secret != nil }

func (a hmacAlg) sizeOK(n int) bool { return n == a.h().Size() }

func (a hmacAlg) match(keys []key, pre, body, post []byte, sigs [][]byte) bool {
	var buf [sha512.Size]byte
	for _, k := range keys {
		m := hmac.New(a.h, k.secret)
		m.Write(pre)
		m.Write(body)
		m.Write(post)
		sum := m.Sum(buf[:0])
		for _, sig := range sigs {
			if hmac.Equal(sum, sig) {
				return true
			}
		}
	}
	return false
}

func (a hmacAlg) sign(crypto.Signer, []byte, []byte, []byte) ([]byte, error) {
	return nil, errors.New("verify: an HMAC is keyed with a secret, not a private key")
}

// keyedHashAlg is the plain hash of the key followed by the signed bytes,
// which some providers use instead of an HMAC (HubSpot v1 and v2,
// Recharge). Length extension does not help a forger here: the key comes
// first and the message's end is the body, which the verifier reads whole.
type keyedHashAlg struct{ h func() hash.Hash }

func (a keyedHashAlg) fits(k key) bool { return k.secret != nil }

func (a keyedHashAlg) sizeOK(n int) bool { return n == a.h().Size() }

func (a keyedHashAlg) match(keys []key, pre, body, post []byte, sigs [][]byte) bool {
	for _, k := range keys {
		sum := keyedHash(a.h, k.secret, pre, body, post)
		for _, sig := range sigs {
			if hmac.Equal(sum, sig) {
				return true
			}
		}
	}
	return false
}

func (a keyedHashAlg) sign(crypto.Signer, []byte, []byte, []byte) ([]byte, error) {
	return nil, errors.New("verify: a keyed hash is keyed with a secret, not a private key")
}

func keyedHash(h func() hash.Hash, secret []byte, parts ...[]byte) []byte {
	d := h()
	d.Write(secret)
	for _, p := range parts {
		d.Write(p)
	}
	return d.Sum(nil)
}

// join returns the signed message in one slice, copying only when the
// template adds bytes around the body.
func join(pre, body, post []byte) []byte {
	if len(pre) == 0 && len(post) == 0 {
		return body
	}
	msg := make([]byte, 0, len(pre)+len(body)+len(post))
	return append(append(append(msg, pre...), body...), post...)
}

type ed25519Alg struct{}

func (ed25519Alg) fits(k key) bool { _, ok := k.public.(ed25519.PublicKey); return ok }

func (ed25519Alg) sizeOK(n int) bool { return n == ed25519.SignatureSize }

// msgBufs hold the joined message Ed25519 needs whole (it hashes R, A
// and the message in one SHA-512): a 64 KiB body is copied into a reused
// buffer instead of a fresh one per request.
var msgBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (ed25519Alg) match(keys []key, pre, body, post []byte, sigs [][]byte) bool {
	msg := body
	if len(pre) > 0 || len(post) > 0 {
		bp := msgBufs.Get().(*[]byte)
		msg = append(append(append((*bp)[:0], pre...), body...), post...)
		defer func() {
			if cap(msg) <= 1<<20 {
				*bp = msg[:0]
				msgBufs.Put(bp)
			}
		}()
	}
	for _, k := range keys {
		for _, sig := range sigs {
			if ed25519.Verify(k.public.(ed25519.PublicKey), msg, sig) {
				return true
			}
		}
	}
	return false
}

func (ed25519Alg) sign(k crypto.Signer, pre, body, post []byte) ([]byte, error) {
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("verify: an Ed25519 private key is needed")
	}
	return ed25519.Sign(priv, join(pre, body, post)), nil
}

// digest hashes the message parts without joining them.
func digest(h crypto.Hash, pre, body, post []byte) []byte {
	d := hashFuncs[h]()
	d.Write(pre)
	d.Write(body)
	d.Write(post)
	return d.Sum(nil)
}

// ecdsaAlg is ECDSA P-256; a signature is ASN.1 DER (SendGrid) or the raw
// 64 bytes r‖s (JOSE style).
type ecdsaAlg struct{ h crypto.Hash }

func (ecdsaAlg) fits(k key) bool { _, ok := k.public.(*ecdsa.PublicKey); return ok }

func (ecdsaAlg) sizeOK(n int) bool { return n >= 8 && n <= 72 }

func (a ecdsaAlg) match(keys []key, pre, body, post []byte, sigs [][]byte) bool {
	d := digest(a.h, pre, body, post)
	for _, k := range keys {
		pub := k.public.(*ecdsa.PublicKey)
		for _, sig := range sigs {
			if len(sig) == 64 && sig[0] != 0x30 {
				r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
				if ecdsa.Verify(pub, d, r, s) {
					return true
				}
				continue
			}
			if ecdsa.VerifyASN1(pub, d, sig) {
				return true
			}
		}
	}
	return false
}

func (a ecdsaAlg) sign(k crypto.Signer, pre, body, post []byte) ([]byte, error) {
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("verify: an ECDSA private key is needed")
	}
	return ecdsa.SignASN1(rand.Reader, priv, digest(a.h, pre, body, post))
}

// rsaAlg is RSA PKCS #1 v1.5 or, with pss, RSASSA-PSS.
type rsaAlg struct {
	h   crypto.Hash
	pss bool
}

func (rsaAlg) fits(k key) bool { _, ok := k.public.(*rsa.PublicKey); return ok }

func (rsaAlg) sizeOK(n int) bool { return n >= 256 && n <= 512 }

func (a rsaAlg) match(keys []key, pre, body, post []byte, sigs [][]byte) bool {
	d := digest(a.h, pre, body, post)
	for _, k := range keys {
		pub := k.public.(*rsa.PublicKey)
		for _, sig := range sigs {
			var err error
			if a.pss {
				err = rsa.VerifyPSS(pub, a.h, d, sig, nil)
			} else {
				err = rsa.VerifyPKCS1v15(pub, a.h, d, sig)
			}
			if err == nil {
				return true
			}
		}
	}
	return false
}

func (a rsaAlg) sign(k crypto.Signer, pre, body, post []byte) ([]byte, error) {
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("verify: an RSA private key is needed")
	}
	d := digest(a.h, pre, body, post)
	if a.pss {
		return rsa.SignPSS(rand.Reader, priv, a.h, d, nil)
	}
	return rsa.SignPKCS1v15(rand.Reader, priv, a.h, d)
}
