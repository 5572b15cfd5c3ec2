package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cloudhooks/webhooks/shared/suggest"
	"github.com/cloudhooks/webhooks/shared/verify/handshake"
)

// Scheme names, the values of Config.Scheme.
const (
	SchemeToken            = "token"
	SchemeBasic            = "basic"
	SchemeHMAC             = "hmac"
	SchemeGitHub           = "github"
	SchemeGitLab           = "gitlab"
	SchemeStripe           = "stripe"
	SchemeSlack            = "slack"
	SchemeStandardWebhooks = "standardwebhooks"
	SchemeSvix             = "svix"
	SchemeShopify          = "shopify"
	SchemeLogto            = "logto"
	SchemeTwilio           = "twilio"
	SchemeZoom             = "zoom"
	SchemeTwitter          = "twitter"
	SchemeOIDC             = "oidc"
	SchemeNone             = "none"
)

// Headers the schemes read, by provider.
const (
	HeaderToken           = "Secret" // the Cloud Run webhook guide's shared-token header
	HeaderGitHubSignature = "X-Hub-Signature-256"
	HeaderGitHubDelivery  = "X-GitHub-Delivery"
	HeaderGitHubEvent     = "X-GitHub-Event"
	HeaderGitLabToken     = "X-Gitlab-Token"
	HeaderGitLabEvent     = "X-Gitlab-Event"
	HeaderGitLabEventUUID = "X-Gitlab-Event-UUID"
	HeaderIdempotencyKey  = "Idempotency-Key"
	HeaderStripeSignature = "Stripe-Signature"
	HeaderSlackSignature  = "X-Slack-Signature"
	HeaderSlackTimestamp  = "X-Slack-Request-Timestamp"
	HeaderWebhookID       = "Webhook-Id"
	HeaderWebhookTime     = "Webhook-Timestamp"
	HeaderWebhookSig      = "Webhook-Signature"
	HeaderSvixID          = "Svix-Id"
	HeaderSvixTime        = "Svix-Timestamp"
	HeaderSvixSig         = "Svix-Signature"
	HeaderShopifyHMAC     = "X-Shopify-Hmac-Sha256"
	HeaderShopifyTopic    = "X-Shopify-Topic"
	HeaderShopifyEventID  = "X-Shopify-Event-Id"
	HeaderShopifyWebhook  = "X-Shopify-Webhook-Id"
	HeaderLogtoSignature  = "Logto-Signature-Sha-256"
	HeaderTwilioSignature = "X-Twilio-Signature"
	HeaderTwilioIdempo    = "I-Twilio-Idempotency-Token"
	HeaderZoomSignature   = "X-Zm-Signature"
	HeaderZoomTimestamp   = "X-Zm-Request-Timestamp"
	HeaderTwitterSig      = "X-Twitter-Webhooks-Signature"
)

// Schemes returns the scheme names New accepts, sorted.
func Schemes() []string {
	names := make([]string, 0, len(constructors))
	for name := range constructors {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// scheme is one provider's way of signing. Every scheme both verifies and
// signs, so tests and senders use the code that receivers trust.
type scheme interface {
	needsSecret() bool
	// decodeKey turns one line of the secret into key bytes.
	decodeKey(line []byte) ([]byte, error)
	verify(in *input, keys [][]byte) (Identity, error)
	sign(r *http.Request, body, key []byte, now time.Time) error
}

var constructors = map[string]func(Config) (scheme, error){
	SchemeToken:  newToken,
	SchemeBasic:  func(Config) (scheme, error) { return basicScheme{}, nil },
	SchemeHMAC:   newGenericHMAC,
	SchemeGitHub: newGitHub,
	SchemeGitLab: newGitLab,
	SchemeStripe: func(Config) (scheme, error) { return stripeScheme{}, nil },
	SchemeSlack: func(Config) (scheme, error) {
		return versionedHMAC{sigHeader: HeaderSlackSignature, timeHeader: HeaderSlackTimestamp, idField: "event_id"}, nil
	},
	SchemeZoom: func(Config) (scheme, error) {
		return versionedHMAC{sigHeader: HeaderZoomSignature, timeHeader: HeaderZoomTimestamp}, nil
	},
	SchemeStandardWebhooks: func(Config) (scheme, error) { return standardScheme{}, nil },
	SchemeSvix:             func(Config) (scheme, error) { return standardScheme{svix: true}, nil },
	SchemeShopify:          newShopify,
	SchemeLogto:            newLogto,
	SchemeTwitter:          newTwitter,
	SchemeTwilio:           func(Config) (scheme, error) { return twilioScheme{}, nil },
	SchemeOIDC:             newOIDC,
	SchemeNone:             func(Config) (scheme, error) { return noneScheme{}, nil },
}

func newScheme(cfg Config) (scheme, error) {
	c, ok := constructors[cfg.Scheme]
	if !ok {
		if m := suggest.Closest(cfg.Scheme, Schemes()); m != "" {
			return nil, fmt.Errorf("verify.scheme: unknown scheme %q; did you mean %q?", cfg.Scheme, m)
		}
		return nil, fmt.Errorf("verify.scheme: unknown scheme %q (known: %s)", cfg.Scheme, strings.Join(Schemes(), ", "))
	}
	return c(cfg)
}

// Sign signs r, whose body is body, as the provider of cfg's scheme would,
// with key (one key, as it appears in the secret) at time now. It sets the
// scheme's headers on r and leaves the body to the caller.
func Sign(cfg Config, key []byte, now time.Time, r *http.Request, body []byte) error {
	s, err := newScheme(cfg)
	if err != nil {
		return err
	}
	if !s.needsSecret() {
		return fmt.Errorf("verify: scheme %q has no secret to sign with", cfg.Scheme)
	}
	k, err := decodeKey(s, key)
	if err != nil {
		return fmt.Errorf("verify: %s key: %w", cfg.Scheme, err)
	}
	return s.sign(r, body, k, now)
}

// rawKey is the key format of most schemes: the line's bytes as they are.
type rawKey struct{}

func (rawKey) needsSecret() bool { return true }

func (rawKey) decodeKey(line []byte) ([]byte, error) { return line, nil }

// hashes are the HMAC hashes the generic scheme offers.
var hashes = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}

// mac returns the HMAC of the parts under key.
func mac(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// decodeSignature decodes a hex or base64 signature; base64 is accepted
// with or without padding.
func decodeSignature(enc, s string) ([]byte, error) {
	if enc == "hex" {
		return hex.DecodeString(s)
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func encodeSignature(enc string, sig []byte) string {
	if enc == "hex" {
		return hex.EncodeToString(sig)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// bodyHMAC is the family of schemes that sign the body alone with an HMAC
// in one header: GitHub, Shopify, Logto and the generic hmac scheme.
type bodyHMAC struct {
	rawKey
	header, prefix, encoding string
	hash                     func() hash.Hash
	identity                 func(*http.Request) Identity
}

func (s bodyHMAC) verify(in *input, keys [][]byte) (Identity, error) {
	v, err := in.header(s.header)
	if err != nil {
		return Identity{}, err
	}
	if s.prefix != "" {
		rest, ok := cutPrefixFold(v, s.prefix)
		if !ok {
			return Identity{}, fmt.Errorf("%w: %s does not start with %q", ErrMalformedHeader, s.header, s.prefix)
		}
		v = rest
	}
	got, err := decodeSignature(s.encoding, strings.TrimSpace(v))
	if err != nil || len(got) != s.hash().Size() {
		return Identity{}, fmt.Errorf("%w: %s is not a %s signature", ErrMalformedHeader, s.header, s.encoding)
	}
	for _, k := range keys {
		if hmac.Equal(mac(s.hash, k, in.body), got) {
			if s.identity == nil {
				return Identity{}, nil
			}
			return s.identity(in.r), nil
		}
	}
	return Identity{}, ErrBadSignature
}

func (s bodyHMAC) sign(r *http.Request, body, key []byte, _ time.Time) error {
	r.Header.Set(s.header, s.prefix+encodeSignature(s.encoding, mac(s.hash, key, body)))
	return nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func newGenericHMAC(cfg Config) (scheme, error) {
	if cfg.Header == "" {
		return nil, fmt.Errorf("verify.header: scheme hmac needs the signature header's name")
	}
	alg := cfg.Algorithm
	if alg == "" {
		alg = "sha256"
	}
	h, ok := hashes[alg]
	if !ok {
		return nil, fmt.Errorf("verify.algorithm: %q is not sha1, sha256 or sha512", cfg.Algorithm)
	}
	enc := cfg.Encoding
	if enc == "" {
		enc = "hex"
	}
	if enc != "hex" && enc != "base64" {
		return nil, fmt.Errorf("verify.encoding: %q is not hex or base64", cfg.Encoding)
	}
	return bodyHMAC{header: cfg.Header, prefix: cfg.Prefix, encoding: enc, hash: h}, nil
}

// newGitHub: "X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>".
// The SHA-1 header GitHub also sends is ignored on purpose: accepting it
// would let a downgrade through.
func newGitHub(cfg Config) (scheme, error) {
	return bodyHMAC{header: orDefault(cfg.Header, HeaderGitHubSignature), prefix: "sha256=", encoding: "hex", hash: sha256.New,
		identity: func(r *http.Request) Identity {
			typ := r.Header.Get(HeaderGitHubEvent)
			return Identity{ID: r.Header.Get(HeaderGitHubDelivery), Type: typ, Acknowledge: typ == "ping"}
		}}, nil
}

// newShopify: "X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>".
// X-Shopify-Event-Id is the same on every delivery of one event (Shopify's
// documented dedupe key); the webhook id is per delivery.
func newShopify(cfg Config) (scheme, error) {
	return bodyHMAC{header: orDefault(cfg.Header, HeaderShopifyHMAC), encoding: "base64", hash: sha256.New,
		identity: func(r *http.Request) Identity {
			id := r.Header.Get(HeaderShopifyEventID)
			if id == "" {
				id = r.Header.Get(HeaderShopifyWebhook)
			}
			return Identity{ID: id, Type: r.Header.Get(HeaderShopifyTopic)}
		}}, nil
}

// newLogto: "logto-signature-sha-256: <hex HMAC-SHA256 of the body>".
func newLogto(cfg Config) (scheme, error) {
	return bodyHMAC{header: orDefault(cfg.Header, HeaderLogtoSignature), encoding: "hex", hash: sha256.New}, nil
}

// twitterScheme is X's (Twitter's) Account Activity API:
// "x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256 of the body>",
// keyed with the app's consumer secret. X's CRC handshake (handshake.CRC)
// answers an unsigned GET with the same HMAC, under the same key, of a
// token of the asker's choice; so a body that the handshake would sign
// (handshake.ValidCRCToken: X's events are JSON objects, never such a
// string) is refused before its signature is looked at.
type twitterScheme struct{ bodyHMAC }

func newTwitter(cfg Config) (scheme, error) {
	return twitterScheme{bodyHMAC{header: orDefault(cfg.Header, HeaderTwitterSig), prefix: "sha256=", encoding: "base64", hash: sha256.New}}, nil
}

func (s twitterScheme) verify(in *input, keys [][]byte) (Identity, error) {
	if handshake.ValidCRCToken(in.body) {
		return Identity{}, fmt.Errorf("%w: the body is a CRC token, which the crc handshake signs for anyone", ErrBadSignature)
	}
	return s.bodyHMAC.verify(in, keys)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// noneScheme accepts every request: for providers that sign nothing, with
// an address allowlist or a handshake as the only protection. New logs a
// warning for every source that uses it.
type noneScheme struct{}

func (noneScheme) needsSecret() bool                         { return false }
func (noneScheme) decodeKey(line []byte) ([]byte, error)     { return line, nil }
func (noneScheme) verify(*input, [][]byte) (Identity, error) { return Identity{}, nil }
func (noneScheme) sign(*http.Request, []byte, []byte, time.Time) error {
	return nil
}
