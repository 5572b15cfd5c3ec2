package verify

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func unixTime(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrMalformedHeader, s)
	}
	return time.Unix(n, 0), nil
}

// standardScheme is Standard Webhooks (and Svix, its origin, with svix-*
// headers): "webhook-signature: v1,<base64> [v1a,<base64>…]" over
// "<webhook-id>.<webhook-timestamp>.<body>". v1 is HMAC-SHA256 keyed with
// the bytes of a "whsec_" key; v1a is Ed25519 under a "whpk_" public key.
// A secret may hold both kinds of line; each signature is checked against
// the keys of its version. Either header family is accepted, as the
// reference libraries do; Svix's row signs with svix-* names.
type standardScheme struct {
	p    Provider
	svix bool
}

func newStandard(p Provider, _ Config) (scheme, error) {
	return standardScheme{p: p, svix: strings.EqualFold(p.Header, HeaderSvixSig)}, nil
}

func (standardScheme) needsSecret() bool { return true }

func (s standardScheme) decodeKey(line []byte) (key, error) {
	return decodeKeyFormat(KeyWhsec, line, 0)
}

func (s standardScheme) verify(in *input, keys []key) (Identity, error) {
	id, err := in.firstHeader(HeaderWebhookID, HeaderSvixID)
	if err != nil {
		return Identity{}, err
	}
	ts, err := in.firstHeader(HeaderWebhookTime, HeaderSvixTime)
	if err != nil {
		return Identity{}, err
	}
	v, err := in.firstHeader(HeaderWebhookSig, HeaderSvixSig)
	if err != nil {
		return Identity{}, err
	}
	t, err := unixTime(ts)
	if err != nil {
		return Identity{}, err
	}
	prefix := []byte(id + "." + ts + ".")
	var seen, ok bool
	entries := strings.Fields(v)
	if len(entries) > maxSigs {
		return Identity{}, fmt.Errorf("%w: %s holds %d signatures", ErrMalformedHeader, HeaderWebhookSig, len(entries))
	}
	for _, entry := range entries {
		version, enc, _ := strings.Cut(entry, ",")
		sig, derr := base64.StdEncoding.DecodeString(enc)
		if derr != nil {
			continue
		}
		switch {
		case version == "v1" && len(sig) == sha256.Size:
			seen = true
			for _, k := range keys {
				if k.secret != nil && hmac.Equal(hmacSum(sha256.New, k.secret, prefix, in.body), sig) {
					ok = true
				}
			}
		case version == "v1a" && len(sig) == ed25519.SignatureSize:
			seen = true
			for _, k := range keys {
				if pub, isEd := k.public.(ed25519.PublicKey); isEd && ed25519.Verify(pub, join(prefix, in.body, nil), sig) {
					ok = true
				}
			}
		}
		if ok {
			break
		}
	}
	switch {
	case !seen:
		return Identity{}, fmt.Errorf("%w: %s has no v1 or v1a signature", ErrMalformedHeader, HeaderWebhookSig)
	case !ok:
		return Identity{}, ErrBadSignature
	}
	if err := in.fresh(t); err != nil {
		return Identity{}, err
	}
	return Identity{ID: id, IDField: s.p.IDField, TypeField: s.p.TypeField, Timestamp: t}, nil
}

// sign signs v1 with a whsec_ key, v1a with a whsk_ Ed25519 private key.
func (s standardScheme) sign(r *http.Request, body, line []byte, now time.Time) error {
	idH, timeH, sigH := HeaderWebhookID, HeaderWebhookTime, HeaderWebhookSig
	if s.svix {
		idH, timeH, sigH = HeaderSvixID, HeaderSvixTime, HeaderSvixSig
	}
	id := r.Header.Get(idH)
	if id == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = "msg_" + hex.EncodeToString(b)
		r.Header.Set(idH, id)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	prefix := []byte(id + "." + ts + ".")
	if strings.HasPrefix(string(line), "whsk_") {
		priv, err := parsePrivateKey(line)
		if err != nil {
			return err
		}
		edPriv, ok := priv.(ed25519.PrivateKey)
		if !ok {
			return errors.New("a whsk_ key is an Ed25519 private key")
		}
		r.Header.Set(timeH, ts)
		r.Header.Set(sigH, "v1a,"+base64.StdEncoding.EncodeToString(ed25519.Sign(edPriv, join(prefix, body, nil))))
		return nil
	}
	k, err := s.decodeKey(line)
	if err != nil {
		return err
	}
	if k.secret == nil {
		return errors.New("a whpk_ key verifies; signing v1a needs its whsk_ private key")
	}
	r.Header.Set(timeH, ts)
	r.Header.Set(sigH, "v1,"+base64.StdEncoding.EncodeToString(hmacSum(sha256.New, k.secret, prefix, body)))
	return nil
}
