package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
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
	rawKey
	header string
	field  []string
	// identity reads the provider's headers (GitLab); nil for plain tokens.
	identity func(*http.Request) Identity
}

func newToken(cfg Config) (scheme, error) {
	if cfg.Field != "" {
		if cfg.Header != "" {
			return nil, errors.New("verify.field: a token is in a header or in a payload field, not both")
		}
		path := strings.Split(cfg.Field, ".")
		for _, p := range path {
			if p == "" {
				return nil, fmt.Errorf("verify.field: %q is not a dotted path of field names", cfg.Field)
			}
		}
		return tokenScheme{field: path}, nil
	}
	return tokenScheme{header: orDefault(cfg.Header, HeaderToken)}, nil
}

// newGitLab: "X-Gitlab-Token: <the token set on the webhook>". GitLab's
// Idempotency-Key is the same on every retry of one event; older GitLab
// versions send only X-Gitlab-Event-UUID.
func newGitLab(cfg Config) (scheme, error) {
	return tokenScheme{header: orDefault(cfg.Header, HeaderGitLabToken), identity: func(r *http.Request) Identity {
		id := r.Header.Get(HeaderIdempotencyKey)
		if id == "" {
			id = r.Header.Get(HeaderGitLabEventUUID)
		}
		return Identity{ID: id, Type: r.Header.Get(HeaderGitLabEvent)}
	}}, nil
}

func (s tokenScheme) verify(in *input, keys [][]byte) (Identity, error) {
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
	if s.identity == nil {
		return Identity{}, nil
	}
	return s.identity(in.r), nil
}

func (s tokenScheme) sign(r *http.Request, _, key []byte, _ time.Time) error {
	if s.field != nil {
		return fmt.Errorf("verify: the token is read from payload field %q: put it in the payload", strings.Join(s.field, "."))
	}
	r.Header.Set(s.header, string(key))
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
func anyEqual(got []byte, keys [][]byte) bool {
	g := sha256.Sum256(got)
	match := 0
	for _, k := range keys {
		d := sha256.Sum256(k)
		match |= subtle.ConstantTimeCompare(g[:], d[:])
	}
	return match == 1
}

// basicScheme is HTTP Basic authentication; each key line is
// "user:password".
type basicScheme struct{ rawKey }

func (basicScheme) verify(in *input, keys [][]byte) (Identity, error) {
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
	return Identity{}, nil
}

func (basicScheme) decodeKey(line []byte) ([]byte, error) {
	if !strings.Contains(string(line), ":") {
		return nil, errors.New("a basic key is user:password")
	}
	return line, nil
}

func (basicScheme) sign(r *http.Request, _, key []byte, _ time.Time) error {
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(key))
	return nil
}
