package verify

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cloudhooks/webhooks/shared/suggest"
)

// The generic schemes, which a source configures itself (verify.header,
// verify.algorithm…), beside the catalogue's named providers.
const (
	SchemeToken = "token"
	SchemeBasic = "basic"
	SchemeHMAC  = "hmac"
	SchemeOIDC  = "oidc"
	SchemeNone  = "none"
)

// Scheme names of catalogue providers that other packages name in code.
const (
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
)

// Headers the code outside this package names.
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

// generic are the schemes that are not catalogue rows.
var generic = map[string]func(Config) (scheme, error){
	SchemeToken: func(cfg Config) (scheme, error) {
		return newToken(Provider{Name: SchemeToken, Family: FamilyToken}, cfg)
	},
	SchemeBasic: func(cfg Config) (scheme, error) {
		return newBasic(Provider{Name: SchemeBasic, Family: FamilyBasic}, cfg)
	},
	SchemeHMAC: newGenericHMAC,
	SchemeOIDC: newOIDC,
	SchemeNone: func(Config) (scheme, error) { return noneScheme{}, nil },
}

// familyConstructors build a catalogue row's scheme.
var familyConstructors = map[string]func(Provider, Config) (scheme, error){
	FamilyHMAC:     newSigned,
	FamilyEd25519:  newSigned,
	FamilyECDSA:    newSigned,
	FamilyRSA:      newSigned,
	FamilyStandard: newStandard,
	FamilyTwilio:   newTwilio,
	FamilyToken:    newToken,
	FamilyBasic:    newBasic,
	FamilyNone:     func(Provider, Config) (scheme, error) { return noneScheme{}, nil },
	FamilySNS:      newSNS,
	FamilyPayPal:   newPayPal,
}

// Schemes returns the scheme names New accepts, sorted: the generic
// schemes and every catalogue provider.
func Schemes() []string {
	names := make([]string, 0, len(generic)+len(catalogue))
	for name := range generic {
		names = append(names, name)
	}
	for _, p := range catalogue {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}

// scheme is one provider's way of signing. Every scheme both verifies and
// signs, so tests and senders use the code that receivers trust.
type scheme interface {
	needsSecret() bool
	// decodeKey turns one entry of the secret (a line, or a PEM block)
	// into a key, refusing one too weak to prove anything.
	decodeKey(line []byte) (key, error)
	verify(in *input, keys []key) (Identity, error)
	// sign signs r with line, one entry of the signing secret: the key
	// itself for HMAC and token schemes, the private key for asymmetric
	// ones.
	sign(r *http.Request, body, line []byte, now time.Time) error
}

func newScheme(cfg Config) (scheme, error) {
	if c, ok := generic[cfg.Scheme]; ok {
		return c(cfg)
	}
	if p, ok := Lookup(cfg.Scheme); ok {
		return familyConstructors[p.Family](p, cfg)
	}
	if m := suggest.Closest(cfg.Scheme, Schemes()); m != "" {
		return nil, fmt.Errorf("verify.scheme: unknown scheme %q; did you mean %q?", cfg.Scheme, m)
	}
	return nil, fmt.Errorf("verify.scheme: unknown scheme %q (known: the generic hmac, token, basic, oidc, none, and %d providers; see docs/providers.md)",
		cfg.Scheme, len(catalogue))
}

// Sign signs r, whose body is body, as the provider of cfg's scheme would,
// with key (one entry of the secret as written: for an asymmetric scheme,
// the private key) at time now. It sets the scheme's headers on r and
// leaves the body to the caller.
func Sign(cfg Config, key []byte, now time.Time, r *http.Request, body []byte) error {
	s, err := newScheme(cfg)
	if err != nil {
		return err
	}
	if !s.needsSecret() {
		return fmt.Errorf("verify: scheme %q has no secret to sign with", cfg.Scheme)
	}
	if err := s.sign(r, body, key, now); err != nil {
		return fmt.Errorf("verify: %s key: %w", cfg.Scheme, err)
	}
	return nil
}

func newGenericHMAC(cfg Config) (scheme, error) {
	if cfg.Header == "" {
		return nil, errors.New("verify.header: scheme hmac needs the signature header's name")
	}
	enc := orDefault(cfg.Encoding, "hex")
	if enc != "hex" && enc != "base64" {
		return nil, fmt.Errorf("verify.encoding: %q is not hex or base64", cfg.Encoding)
	}
	alg := orDefault(cfg.Algorithm, "sha256")
	if _, ok := hashes[alg]; !ok {
		return nil, fmt.Errorf("verify.algorithm: %q is not sha1, sha256 or sha512", cfg.Algorithm)
	}
	return newSigned(Provider{Name: SchemeHMAC, Family: FamilyHMAC, Header: cfg.Header, Prefix: cfg.Prefix,
		Encoding: enc, Hash: alg}, Config{URL: cfg.URL})
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// noneScheme accepts every request: for providers that sign nothing, with
// an address allowlist or a handshake as the only protection.
type noneScheme struct{}

func (noneScheme) needsSecret() bool                      { return false }
func (noneScheme) decodeKey(line []byte) (key, error)     { return key{secret: line}, nil }
func (noneScheme) verify(*input, []key) (Identity, error) { return Identity{}, nil }
func (noneScheme) sign(*http.Request, []byte, []byte, time.Time) error {
	return nil
}
