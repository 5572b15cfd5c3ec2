package verify

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cloudhooks/webhooks/shared/suggest"
	"github.com/cloudhooks/webhooks/shared/verify/handshake"
)

// keyedHandshakes are the handshakes whose reply is an HMAC-SHA256 under
// the source's key, each with the one scheme it may be paired with. Such a
// reply is a signature: under any other scheme, or under a key that another
// scheme verifies with, it would be a signature of whatever the asker sent.
// Their own schemes are safe: X's twitter scheme refuses every body the crc
// handshake signs, and Zoom's signs a timestamped string that its
// handshake, answered only after verification, never reaches unsigned.
var keyedHandshakes = map[string]string{
	handshake.CRC:  SchemeTwitter,
	handshake.Zoom: SchemeZoom,
}

// providerHandshakes are handshakes of one provider's own format, answered
// only with that provider's preset: under another scheme they would be an
// echo that no sender of that scheme ever asks for.
var providerHandshakes = map[string]string{
	handshake.Discord:   "discord",
	handshake.Twitch:    "twitch",
	handshake.Front:     "front",
	handshake.EventGrid: "azure-event-grid",
	handshake.Okta:      "okta",
}

// HandshakeScheme returns the scheme that a handshake replying with an
// HMAC under the source's key must be paired with, and whether kind is such
// a handshake. Package config uses it to keep that key out of every source
// of another scheme.
func HandshakeScheme(kind string) (scheme string, keyed bool) {
	scheme, keyed = keyedHandshakes[kind]
	return scheme, keyed
}

// QueryCredentials names the query parameters of cfg's requests that are
// checked against its keys, for whatever keeps or shows requests (the
// local inspector): secret are those whose value is a key itself, such as
// Meta's hub.verify_token (handshake.SecretParams), never to be written
// down; signature are those that carry a signature made with a key, such
// as PandaDoc's ?signature=, worthless without the key but a credential
// all the same, to be masked wherever they are shown.
func QueryCredentials(cfg Config) (secret, signature []string) {
	for _, kind := range cfg.Handshakes {
		secret = append(secret, handshake.SecretParams(kind)...)
	}
	if p, ok := Lookup(cfg.Scheme); ok && p.SigParam != "" {
		signature = append(signature, p.SigParam)
	}
	return secret, signature
}

// checkHandshakes refuses handshakes that are unknown or that would make
// the source a signing oracle, naming the field and why.
func checkHandshakes(cfg Config) error {
	var errs []error
	for _, kind := range cfg.Handshakes {
		if !handshake.Valid(kind) {
			if m := suggest.Closest(kind, handshake.Kinds()); m != "" {
				errs = append(errs, fmt.Errorf("verify.handshakes: unknown handshake %q; did you mean %q?", kind, m))
			} else {
				errs = append(errs, fmt.Errorf("verify.handshakes: unknown handshake %q (known: %s)", kind, strings.Join(handshake.Kinds(), ", ")))
			}
			continue
		}
		if owner, ok := providerHandshakes[kind]; ok && cfg.Scheme != owner {
			errs = append(errs, fmt.Errorf("verify.handshakes: %q is %s's handshake; it is answered only with scheme %q", kind, owner, owner))
			continue
		}
		scheme, keyed := keyedHandshakes[kind]
		if !keyed {
			continue
		}
		if cfg.Scheme != scheme {
			errs = append(errs, fmt.Errorf("verify.handshakes: %q replies with an HMAC-SHA256 under the source's key, "+
				"which would sign forged events of scheme %q; it is answered only with scheme %q", kind, cfg.Scheme, scheme))
		}
		if cfg.HandshakeSecret != "" {
			errs = append(errs, fmt.Errorf("verify.handshake_secret: %q is keyed with the signing secret (verify.secret); "+
				"a separate key would sign for whichever source verifies with it", kind))
		}
		if kind == handshake.CRC && len(cfg.AllowCIDRs) == 0 {
			errs = append(errs, errors.New("verify.allow_cidrs: the crc handshake answers unsigned GETs with the HMAC that X signs events with; "+
				"list X's addresses so that no one else can ask"))
		}
	}
	return errors.Join(errs...)
}
