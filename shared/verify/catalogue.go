package verify

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Families: the verifiers behind the catalogue. A provider whose wire
// format exists is one Provider row naming its family and parameters.
const (
	// FamilyHMAC is an HMAC over a byte template of the request: the body
	// alone (GitHub), a timestamp and the body (Stripe, Slack), the URL and
	// the body (Square), the method, URL, body and timestamp (HubSpot).
	FamilyHMAC = "hmac"
	// FamilyStandard is Standard Webhooks (and Svix): HMAC-SHA256 "v1" and
	// Ed25519 "v1a" over "id.timestamp.body".
	FamilyStandard = "standard"
	// FamilyTwilio is Twilio's algorithm: HMAC-SHA1 of the URL followed by
	// the sorted form parameters (Twilio, Mandrill).
	FamilyTwilio = "twilio"
	// FamilyEd25519, FamilyECDSA and FamilyRSA sign a byte template with a
	// private key whose public half is the source's secret.
	FamilyEd25519 = "ed25519"
	FamilyECDSA   = "ecdsa"
	FamilyRSA     = "rsa"
	// FamilySNS and FamilyPayPal are signed with a certificate fetched at
	// run time from a URL the request names, on hosts the family allows.
	FamilySNS    = "sns"
	FamilyPayPal = "paypal"
	// FamilyToken is a shared token in a header or a payload field.
	FamilyToken = "token"
	// FamilyBasic is HTTP Basic authentication.
	FamilyBasic = "basic"
	// FamilyOIDC is a Google-signed OIDC token.
	FamilyOIDC = "oidc"
	// FamilyNone signs nothing: allow_cidrs or a handshake protect it.
	FamilyNone = "none"
)

// Signature header layouts, the values of Provider.Layout.
const (
	// LayoutPlain: the header (after Prefix) is one signature.
	LayoutPlain = "plain"
	// LayoutPairs: "t=…,v1=…[,v1=…]" pairs, PairSep between them, the
	// timestamp under TimeKey and signatures under SigKey (Stripe, Paddle).
	LayoutPairs = "pairs"
	// LayoutList: several signatures separated by ListSep, each with the
	// prefix (PagerDuty during rotation).
	LayoutList = "list"
	// LayoutPositional: "timestamp,sig[,sig]" (Recurly).
	LayoutPositional = "positional"
	// LayoutMulti: one signature per numbered header, Header-1 … Header-N
	// (DocuSign).
	LayoutMulti = "multi"
)

// Provider is one named preset of the catalogue: `scheme: <Name>` in a
// source's verify block selects it. Its fields are the provider's wire
// format, confirmed from the page or SDK file in Source.
type Provider struct {
	Name   string // the scheme name: lower case, digits and '-'
	Title  string // the provider's own spelling
	Family string

	// The signature (or token) header, other names it may come under, the
	// prefix before the encoded value, the encoding (hex, base64,
	// base64url) and the hash (sha1, sha256, sha512).
	Header     string
	AltHeaders []string
	Prefix     string
	Encoding   string
	Hash       string
	// SigParam names the query parameter that carries the signature when
	// no header does (PandaDoc's ?signature=).
	SigParam string
	// Layout of the signature header and its separators and keys.
	Layout                            string
	PairSep, SigKey, TimeKey, ListSep string
	// Content is the signed bytes as a template: {body}, {timestamp} (as
	// sent), {id}, {url} (verify.url), {method}, {header:Name}.
	Content string
	// KeyedHash: the signature is Hash(key ‖ content), not an HMAC
	// (HubSpot v1 and v2, Recharge).
	KeyedHash bool
	// Padding is "pss" for RSASSA-PSS; PKCS #1 v1.5 otherwise.
	Padding string
	// Key is the secret's key format (KeyRaw…), MinKeyLen a documented
	// minimum other than 16 bytes.
	Key       string
	MinKeyLen int

	// The signed timestamp: a header, or a field of the signed body, and
	// its unit (UnitSeconds, UnitMillis, UnitRFC3339); Tolerance where the
	// provider documents one other than DefaultTolerance.
	TimeHeader, TimeField, TimeUnit string
	Tolerance                       time.Duration

	// What identifies the event: id headers (the first present wins), or a
	// top-level payload field; the type header or field.
	IDHeaders  []string
	IDField    string
	TypeHeader string
	TypeField  string
	// PingType is an event type that is a liveness check, answered 200
	// without reaching the function (GitHub's "ping").
	PingType string

	// TokenField is the payload field (a dotted path) that carries a
	// token family's shared secret when no header does.
	TokenField string

	// Handshakes are the ownership checks the provider makes
	// (verify.handshakes may list these).
	Handshakes []string
	// FormField names the form field that carries the JSON payload when
	// the provider posts application/x-www-form-urlencoded.
	FormField string
	// Batch: one delivery carries several events (a JSON array, a list of
	// items); functions see the batch as one event.
	Batch bool
	// Protects says, for providers that sign nothing, what protects the
	// endpoint.
	Protects string

	// Source is the provider's documentation page or official SDK file the
	// row was confirmed from.
	Source string
}

// Providers returns every preset of the catalogue, sorted by name.
func Providers() []Provider {
	out := slices.Clone(catalogue)
	slices.SortFunc(out, func(a, b Provider) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns the preset named name. It scans the catalogue rather than
// indexing it: it runs a few times per start-up, and an index of the whole
// catalogue costs every instance 75 KB of heap before its first request.
func Lookup(name string) (Provider, bool) {
	for i := range catalogue {
		if catalogue[i].Name == name {
			return catalogue[i], true
		}
	}
	return Provider{}, false
}

// checkCatalogue reports the rows that cannot work: a duplicate name, an
// unknown family, a template or layout the family refuses. The catalogue
// test runs it; every row is also built by New in that test.
func checkCatalogue() error {
	seen := map[string]bool{}
	var errs []string
	for _, p := range catalogue {
		switch {
		case seen[p.Name]:
			errs = append(errs, p.Name+": listed twice")
		case p.Title == "" || p.Source == "":
			errs = append(errs, p.Name+": no title or source")
		}
		seen[p.Name] = true
		if _, ok := familyConstructors[p.Family]; !ok {
			errs = append(errs, fmt.Sprintf("%s: unknown family %q", p.Name, p.Family))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("catalogue: %s", strings.Join(errs, "; "))
	}
	return nil
}
