package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/cloudhooks/webhooks/shared/strictjson"
)

// tokenScheme is a static shared secret sent with every request: in a
// header (default "Secret", as in the Cloud Run webhook guide) or in a
// field of the JSON payload (Field, a dotted path such as "auth.token").
// It proves less than a signature, since the secret travels with the
// request, but it is what many providers offer.
type tokenScheme struct {
	p      Provider
	header string
	field  []string
}

func newToken(p Provider, cfg Config) (scheme, error) {
	if cfg.Field != "" {
		if cfg.Header != "" {
			return nil, errors.New("verify.field: a token is in a header or in a payload field, not both")
		}
		p.Header = ""
	}
	field := orDefault(cfg.Field, p.TokenField)
	if field != "" && cfg.Header == "" && p.Header == "" {
		path := strings.Split(field, ".")
		for _, part := range path {
			if part == "" {
				return nil, fmt.Errorf("verify.field: %q is not a dotted path of field names", field)
			}
		}
		return tokenScheme{p: p, field: path}, nil
	}
	return tokenScheme{p: p, header: textproto.CanonicalMIMEHeaderKey(orDefault(cfg.Header, orDefault(p.Header, HeaderToken)))}, nil
}

func (s tokenScheme) needsSecret() bool { return true }

func (s tokenScheme) decodeKey(line []byte) (key, error) {
	return decodeKeyFormat(KeyRaw, line, s.p.MinKeyLen)
}

func (s tokenScheme) verify(in *input, keys []key) (Identity, error) {
	var got []byte
	if s.field != nil {
		var err error
		if got, err = jsonField(in.body, s.field); err != nil {
			return Identity{}, err
		}
	} else {
		h, err := in.header(s.header)
		if err != nil {
			return Identity{}, err
		}
		got = []byte(h)
	}
	if !anyEqual(got, keys) {
		return Identity{}, ErrBadSignature
	}
	return headerIdentity(in.r, s.p)
}

func (s tokenScheme) sign(r *http.Request, _, line []byte, _ time.Time) error {
	if s.field != nil {
		return fmt.Errorf("verify: the token is read from payload field %q: put it in the payload", strings.Join(s.field, "."))
	}
	k, err := s.decodeKey(line)
	if err != nil {
		return err
	}
	r.Header.Set(s.header, string(k.secret))
	return nil
}

// jsonField returns the string at path in the JSON object body. The body
// is not authenticated yet: strictjson.Find reads it only up to the field,
// skipping every other value without building it, so that no body costs
// more memory than its own bytes.
func jsonField(body []byte, path []string) ([]byte, error) {
	raw, _, found, err := strictjson.Find(body, path)
	if err != nil {
		return nil, fmt.Errorf("%w: token field: body is not JSON", ErrMissingHeader)
	}
	token, ok := strictjson.Unquote(raw)
	if !found || !ok || len(token) == 0 {
		return nil, fmt.Errorf("%w: token field %s", ErrMissingHeader, strings.Join(path, "."))
	}
	return token, nil
}

// anyEqual compares got with every key in constant time. Comparing
// digests keeps the comparison's time independent of the keys' lengths
// too.
func anyEqual(got []byte, keys []key) bool {
	g := sha256.Sum256(got)
	match := 0
	for _, k := range keys {
		d := sha256.Sum256(k.secret)
		match |= subtle.ConstantTimeCompare(g[:], d[:])
	}
	return match == 1
}

// basicScheme is HTTP Basic authentication; each key line is
// "user:password", neither empty.
type basicScheme struct{ p Provider }

func newBasic(p Provider, _ Config) (scheme, error) { return basicScheme{p: p}, nil }

func (basicScheme) needsSecret() bool { return true }

func (basicScheme) decodeKey(line []byte) (key, error) {
	return decodeKeyFormat(KeyUserPassword, line, 0)
}

func (s basicScheme) verify(in *input, keys []key) (Identity, error) {
	v, err := in.header("Authorization")
	if err != nil {
		return Identity{}, err
	}
	enc, ok := cutPrefixFold(v, "Basic ")
	if !ok {
		return Identity{}, fmt.Errorf("%w: Authorization is not Basic", ErrMalformedHeader)
	}
	creds, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return Identity{}, fmt.Errorf("%w: Authorization is not base64", ErrMalformedHeader)
	}
	if !anyEqual(creds, keys) {
		return Identity{}, ErrBadSignature
	}
	return headerIdentity(in.r, s.p)
}

func (s basicScheme) sign(r *http.Request, _, line []byte, _ time.Time) error {
	k, err := s.decodeKey(line)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(k.secret))
	return nil
}

// headerIdentity reads a row's id and type headers, for the schemes whose
// identity is not part of what they check.
func headerIdentity(r *http.Request, p Provider) (Identity, error) {
	id := Identity{IDField: p.IDField, TypeField: p.TypeField}
	for _, h := range p.IDHeaders {
		vs := r.Header.Values(h)
		if len(vs) > 1 {
			return Identity{}, fmt.Errorf("%w: %s is repeated", ErrMalformedHeader, h)
		}
		if len(vs) == 1 && vs[0] != "" {
			id.ID = vs[0]
			break
		}
	}
	if p.TypeHeader != "" {
		vs := r.Header.Values(p.TypeHeader)
		if len(vs) > 1 {
			return Identity{}, fmt.Errorf("%w: %s is repeated", ErrMalformedHeader, p.TypeHeader)
		}
		if len(vs) == 1 {
			id.Type = vs[0]
		}
	}
	id.Acknowledge = p.PingType != "" && id.Type == p.PingType
	return id, nil
}
