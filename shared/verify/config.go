package verify

// Config is how one source proves its requests: the scheme, the secret it
// is keyed with and the scheme's options. It is decoded from the source's
// `verify:` block of the configuration file.
type Config struct {
	// Scheme names the provider's signing scheme: "github", "stripe",
	// "standardwebhooks", "hmac", "token", ... or "none" for providers that
	// sign nothing.
	Scheme string `json:"scheme"`
	// Secret is a secret reference (see package secrets): "sm:NAME",
	// "projects/P/secrets/S/versions/V", "env:NAME" or "file:PATH". A secret
	// value holds one key per line; a request passes when any key matches,
	// which is how keys are rotated.
	Secret string `json:"secret,omitempty"`
	// Header overrides the scheme's signature or token header.
	Header string `json:"header,omitempty"`
	// Algorithm is the HMAC hash of the generic hmac scheme: sha1, sha256,
	// sha512.
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding is the signature encoding of the generic hmac scheme: hex,
	// base64.
	Encoding string `json:"encoding,omitempty"`
	// Prefix is stripped from the signature header before decoding
	// ("sha256=").
	Prefix string `json:"prefix,omitempty"`
	// URL is the public URL the provider was configured to call, which
	// URL-bound schemes (Twilio, Square, HubSpot, Trello…) sign: from
	// configuration, never rebuilt from the request's Host.
	URL string `json:"url,omitempty"`
	// Field is the JSON payload field that carries a shared token, for the
	// token scheme.
	Field string `json:"field,omitempty"`
	// Tolerance is how far a signed timestamp may be from now, in either
	// direction, as a Go duration ("5m", the default).
	Tolerance string `json:"tolerance,omitempty"`
	// Audience is the expected audience of a Google-signed OIDC token,
	// required by the oidc scheme (the push endpoint's URL for Pub/Sub).
	Audience string `json:"audience,omitempty"`
	// Email is the service account that must have signed an OIDC token.
	Email string `json:"email,omitempty"`
	// AllowCIDRs restricts the client addresses that may call the source;
	// required with the crc handshake.
	AllowCIDRs []string `json:"allow_cidrs,omitempty"`
	// TrustedProxies is how many X-Forwarded-For entries, from the end,
	// were appended by proxies you trust (see ipallow.TrustedProxies): 0
	// means the default, 1, right for a plain Cloud Run URL; 2 behind your
	// own external Application Load Balancer. Only with AllowCIDRs.
	TrustedProxies int `json:"trusted_proxies,omitempty"`
	// HandshakeSecret is the secret reference of the token that ownership
	// handshakes are checked with when it is not the signing secret (Meta's
	// verify token). Empty: the handshakes use Secret.
	HandshakeSecret string `json:"handshake_secret,omitempty"`
	// Handshakes names the ownership handshakes this source answers
	// ("slack", "meta", "crc", "zoom", "dropbox", "graph", "challenge").
	// The two whose reply is an HMAC under the source's key are accepted
	// only with their provider's scheme: crc with twitter (and AllowCIDRs),
	// zoom with zoom; neither with a HandshakeSecret.
	Handshakes []string `json:"handshakes,omitempty"`
}
