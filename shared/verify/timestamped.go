package verify

import (
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

// The schemes in this file sign a timestamp with the body, so a captured
// request cannot be replayed outside the tolerance.

func unixTime(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrMalformedHeader, s)
	}
	return time.Unix(n, 0), nil
}

// stripeScheme: "Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]", the
// HMAC-SHA256 of "<t>.<body>" keyed with the whole "whsec_..." string as
// bytes (unlike Standard Webhooks, which base64-decodes it). Stripe sends
// several v1 values while a secret is being rolled; any may match.
type stripeScheme struct{ rawKey }

func (stripeScheme) verify(in *input, keys [][]byte) (Identity, error) {
	v, err := in.header(HeaderStripeSignature)
	if err != nil {
		return Identity{}, err
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = val
		case "v1":
			if sig, err := hex.DecodeString(val); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if ts == "" || len(sigs) == 0 {
		return Identity{}, fmt.Errorf("%w: %s has no t= and v1= values", ErrMalformedHeader, HeaderStripeSignature)
	}
	t, err := unixTime(ts)
	if err != nil {
		return Identity{}, err
	}
	if !anyMAC(keys, sigs, []byte(ts), []byte("."), in.body) {
		return Identity{}, ErrBadSignature
	}
	if err := in.fresh(t); err != nil {
		return Identity{}, err
	}
	return Identity{IDField: "id", Timestamp: t}, nil
}

func (stripeScheme) sign(r *http.Request, body, key []byte, now time.Time) error {
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set(HeaderStripeSignature, "t="+ts+",v1="+hex.EncodeToString(mac(sha256.New, key, []byte(ts), []byte("."), body)))
	return nil
}

// anyMAC reports whether any key's HMAC-SHA256 of the parts equals any of
// the signatures.
func anyMAC(keys, sigs [][]byte, parts ...[]byte) bool {
	for _, k := range keys {
		want := mac(sha256.New, k, parts...)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				return true
			}
		}
	}
	return false
}

// versionedHMAC is Slack's and Zoom's scheme: "<sig header>: v0=<hex>",
// the HMAC-SHA256 of "v0:<timestamp>:<body>" with the timestamp in its own
// header.
type versionedHMAC struct {
	rawKey
	sigHeader, timeHeader string
	// idField is the payload field holding the event id (Slack's
	// event_id, the same on Slack's retries).
	idField string
}

func (s versionedHMAC) verify(in *input, keys [][]byte) (Identity, error) {
	ts, err := in.header(s.timeHeader)
	if err != nil {
		return Identity{}, err
	}
	v, err := in.header(s.sigHeader)
	if err != nil {
		return Identity{}, err
	}
	t, err := unixTime(ts)
	if err != nil {
		return Identity{}, err
	}
	enc, ok := strings.CutPrefix(v, "v0=")
	sig, derr := hex.DecodeString(enc)
	if !ok || derr != nil || len(sig) != sha256.Size {
		return Identity{}, fmt.Errorf("%w: %s is not v0=<hex>", ErrMalformedHeader, s.sigHeader)
	}
	if !anyMAC(keys, [][]byte{sig}, []byte("v0:"+ts+":"), in.body) {
		return Identity{}, ErrBadSignature
	}
	if err := in.fresh(t); err != nil {
		return Identity{}, err
	}
	return Identity{IDField: s.idField, Timestamp: t}, nil
}

func (s versionedHMAC) sign(r *http.Request, body, key []byte, now time.Time) error {
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set(s.timeHeader, ts)
	r.Header.Set(s.sigHeader, "v0="+hex.EncodeToString(mac(sha256.New, key, []byte("v0:"+ts+":"), body)))
	return nil
}

// standardScheme is Standard Webhooks (and Svix, its origin, with svix-*
// headers): "webhook-signature: v1,<base64> [v1,<base64>...]", the
// HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>" keyed with the
// base64 that follows "whsec_". Either header family is accepted, as the
// reference libraries do; svix selects the svix-* names when signing.
type standardScheme struct{ svix bool }

func (standardScheme) needsSecret() bool { return true }

func (standardScheme) decodeKey(line []byte) ([]byte, error) {
	s := strings.TrimPrefix(string(line), "whsec_")
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("a Standard Webhooks key is whsec_ followed by base64")
	}
	return k, nil
}

func firstHeader(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func (standardScheme) verify(in *input, keys [][]byte) (Identity, error) {
	id := firstHeader(in.r, HeaderWebhookID, HeaderSvixID)
	ts := firstHeader(in.r, HeaderWebhookTime, HeaderSvixTime)
	v := firstHeader(in.r, HeaderWebhookSig, HeaderSvixSig)
	switch {
	case id == "":
		return Identity{}, fmt.Errorf("%w: %s", ErrMissingHeader, HeaderWebhookID)
	case ts == "":
		return Identity{}, fmt.Errorf("%w: %s", ErrMissingHeader, HeaderWebhookTime)
	case v == "":
		return Identity{}, fmt.Errorf("%w: %s", ErrMissingHeader, HeaderWebhookSig)
	}
	t, err := unixTime(ts)
	if err != nil {
		return Identity{}, err
	}
	var sigs [][]byte
	for _, entry := range strings.Fields(v) {
		version, enc, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue // other versions (v1a: asymmetric) are not ours to check
		}
		if sig, err := base64.StdEncoding.DecodeString(enc); err == nil && len(sig) == sha256.Size {
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 {
		return Identity{}, fmt.Errorf("%w: %s has no v1 signature", ErrMalformedHeader, HeaderWebhookSig)
	}
	if !anyMAC(keys, sigs, []byte(id+"."+ts+"."), in.body) {
		return Identity{}, ErrBadSignature
	}
	if err := in.fresh(t); err != nil {
		return Identity{}, err
	}
	return Identity{ID: id, Timestamp: t}, nil
}

func (s standardScheme) sign(r *http.Request, body, key []byte, now time.Time) error {
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
	r.Header.Set(timeH, ts)
	r.Header.Set(sigH, "v1,"+base64.StdEncoding.EncodeToString(mac(sha256.New, key, []byte(id+"."+ts+"."), body)))
	return nil
}
