package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/cloudhooks/webhooks/shared/secrets"
)

// Key formats, the values of Provider.Key: how one line (or PEM block) of
// a secret becomes a key.
const (
	// KeyRaw is the line's bytes as written (most HMAC providers).
	KeyRaw = "raw"
	// KeyBase64 is a base64 string whose decoded bytes are the HMAC key
	// (Airtable's macSecretBase64, Teams' security token).
	KeyBase64 = "base64"
	// KeyHex is a hex string whose decoded bytes are the key (Adyen).
	KeyHex = "hex"
	// KeyStripe is Stripe's "whsec_…": the whole string, prefix included,
	// is the HMAC key.
	KeyStripe = "stripe"
	// KeyWhsec is Standard Webhooks': "whsec_" and the base64 of 24 to 64
	// key bytes; "whpk_" and the base64 of an Ed25519 public key for v1a.
	KeyWhsec = "whsec"
	// KeyEd25519Hex is a 32-byte Ed25519 public key in hex (Discord).
	KeyEd25519Hex = "ed25519-hex"
	// KeyEd25519Base64 is an Ed25519 public key in base64, raw (32 bytes)
	// or as a DER SubjectPublicKeyInfo (Telnyx).
	KeyEd25519Base64 = "ed25519-base64"
	// KeySPKI is an ECDSA or RSA public key: a PEM "PUBLIC KEY" block or
	// the base64 of its DER SubjectPublicKeyInfo on one line (SendGrid).
	KeySPKI = "spki"
	// KeyUserPassword is HTTP Basic's "user:password".
	KeyUserPassword = "user:password"
)

// minHMACKey is the shortest HMAC or token key accepted unless a provider
// documents a shorter one: below it a key is guessable offline from one
// signed request.
const minHMACKey = 16

// key is one decoded key of a secret: the bytes an HMAC or token is
// keyed with, or a parsed public key.
type key struct {
	secret []byte
	public crypto.PublicKey
}

// secretBytes returns the keys' secret bytes (handshake replies and
// tokens use them), skipping public keys.
func secretBytes(keys []key) [][]byte {
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if k.secret != nil {
			out = append(out, k.secret)
		}
	}
	return out
}

// secretEntries splits a secret value into its keys: PEM blocks when it
// holds any (a PEM key spans lines), otherwise one key per non-empty line.
func secretEntries(raw []byte) [][]byte {
	if bytes.Contains(raw, []byte("-----BEGIN ")) {
		var out [][]byte
		rest := raw
		for {
			start := bytes.Index(rest, []byte("-----BEGIN "))
			if start < 0 {
				break
			}
			block, after := pem.Decode(rest[start:])
			if block == nil {
				// Not a complete block: keep the text so that its line
				// number is reported as a key that does not decode.
				out = append(out, bytes.TrimSpace(rest[start:]))
				break
			}
			out = append(out, bytes.TrimSpace(rest[start:len(rest)-len(after)]))
			rest = after
		}
		return out
	}
	var out [][]byte
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			out = append(out, line)
		}
	}
	return out
}

// decodeKeyFormat decodes one secret entry in format, refusing keys that
// are too weak to prove anything: an HMAC key shorter than min bytes, a
// Stripe key that is its prefix alone, a basic key without a user or a
// password, a public key that does not parse.
func decodeKeyFormat(format string, line []byte, min int) (key, error) {
	if min == 0 {
		min = minHMACKey
	}
	hmacKey := func(b []byte) (key, error) {
		if len(b) < min {
			return key{}, fmt.Errorf("the key is %d bytes; at least %d are needed", len(b), min)
		}
		return key{secret: b}, nil
	}
	switch format {
	case "", KeyRaw:
		return hmacKey(line)
	case KeyBase64:
		b, err := decodeBase64(string(line))
		if err != nil {
			return key{}, errors.New("the key is not base64")
		}
		return hmacKey(b)
	case KeyHex:
		b, err := hex.DecodeString(string(line))
		if err != nil {
			return key{}, errors.New("the key is not hex")
		}
		return hmacKey(b)
	case KeyStripe:
		rest, ok := strings.CutPrefix(string(line), "whsec_")
		if !ok || len(rest) < min {
			return key{}, fmt.Errorf("a Stripe signing secret is whsec_ followed by at least %d characters", min)
		}
		return key{secret: line}, nil
	case KeyWhsec:
		if rest, ok := strings.CutPrefix(string(line), "whpk_"); ok {
			pub, err := ed25519Public(rest)
			if err != nil {
				return key{}, fmt.Errorf("a whpk_ key: %w", err)
			}
			return key{public: pub}, nil
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(string(line), "whsec_"))
		if err != nil {
			return key{}, errors.New("a Standard Webhooks key is whsec_ followed by base64")
		}
		if len(b) < 24 || len(b) > 64 {
			return key{}, fmt.Errorf("a Standard Webhooks key decodes to 24 to 64 bytes, not %d", len(b))
		}
		return key{secret: b}, nil
	case KeyEd25519Hex:
		b, err := hex.DecodeString(string(line))
		if err != nil || len(b) != ed25519.PublicKeySize {
			return key{}, errors.New("an Ed25519 public key is 64 hex digits")
		}
		return key{public: ed25519.PublicKey(b)}, nil
	case KeyEd25519Base64:
		pub, err := ed25519Public(string(line))
		if err != nil {
			return key{}, err
		}
		return key{public: pub}, nil
	case KeySPKI:
		pub, err := parsePublicKey(line)
		if err != nil {
			return key{}, err
		}
		return key{public: pub}, nil
	case KeyUserPassword:
		user, pass, ok := strings.Cut(string(line), ":")
		if !ok || user == "" || pass == "" {
			return key{}, errors.New("a basic key is user:password, neither empty")
		}
		return key{secret: line}, nil
	}
	return key{}, fmt.Errorf("unknown key format %q", format)
}

// decodeBase64 accepts standard or URL base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// ed25519Public reads an Ed25519 public key from base64: the 32 raw bytes
// or a DER SubjectPublicKeyInfo.
func ed25519Public(s string) (ed25519.PublicKey, error) {
	b, err := decodeBase64(s)
	if err != nil {
		return nil, errors.New("an Ed25519 public key is base64")
	}
	if len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	if pub, err := x509.ParsePKIXPublicKey(b); err == nil {
		if k, ok := pub.(ed25519.PublicKey); ok {
			return k, nil
		}
	}
	return nil, errors.New("not an Ed25519 public key (32 bytes, or DER SubjectPublicKeyInfo)")
}

// parsePublicKey reads an ECDSA P-256 or RSA (2048 bits or more) public
// key from a PEM block or the base64 of its DER.
func parsePublicKey(line []byte) (crypto.PublicKey, error) {
	der := line
	if block, _ := pem.Decode(line); block != nil {
		der = block.Bytes
	} else {
		b, err := decodeBase64(string(line))
		if err != nil {
			return nil, errors.New("a public key is PEM or the base64 of its DER")
		}
		der = b
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		if k, err2 := x509.ParsePKCS1PublicKey(der); err2 == nil {
			pub, err = k, nil
		}
	}
	if err != nil {
		return nil, errors.New("the public key does not parse as DER SubjectPublicKeyInfo")
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("the ECDSA key is not on P-256")
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("the RSA key has %d bits; at least 2048 are needed", k.N.BitLen())
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("unsupported public key type %T", pub)
	}
	return pub, nil
}

// parsePrivateKey reads the signing half of an asymmetric scheme, for Sign:
// an Ed25519 seed (32 bytes) or private key (64) in hex or base64, or a
// PKCS#8 (or SEC 1, PKCS#1) private key as PEM or base64 DER.
func parsePrivateKey(line []byte) (crypto.Signer, error) {
	s := strings.TrimPrefix(strings.TrimSpace(string(line)), "whsk_")
	if b, err := hex.DecodeString(s); err == nil {
		switch len(b) {
		case ed25519.SeedSize:
			return ed25519.NewKeyFromSeed(b), nil
		case ed25519.PrivateKeySize:
			return ed25519.PrivateKey(b), nil
		}
	}
	der := []byte(s)
	if block, _ := pem.Decode([]byte(s)); block != nil {
		der = block.Bytes
	} else if b, err := decodeBase64(s); err == nil {
		switch len(b) {
		case ed25519.SeedSize:
			return ed25519.NewKeyFromSeed(b), nil
		case ed25519.PrivateKeySize:
			return ed25519.PrivateKey(b), nil
		}
		der = b
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("a signing key is an Ed25519 seed (hex or base64) or a PKCS#8 private key (PEM or base64 DER)")
}

// SigningSuffix names, in the local loop, the secret that holds the
// private half of an asymmetric source's key: the source's secret
// "NAME" holds the public key its verifier reads, "NAME-signing" the key
// `send` signs with, as the provider would.
const SigningSuffix = "-signing"

// SignsWithPrivateKey reports whether scheme's provider signs with a
// private key that the source's secret does not hold: Ed25519, ECDSA and
// RSA (the secret is the public half), SNS and PayPal (the secret names
// the topics or the webhook; the key is the provider's certificate's).
// Sign then takes the private key.
func SignsWithPrivateKey(scheme string) bool {
	switch p, _ := Lookup(scheme); p.Family {
	case FamilyEd25519, FamilyECDSA, FamilyRSA, FamilySNS, FamilyPayPal:
		return true
	}
	return false
}

// SigningEntry is the entry of a signing secret that Sign takes: the
// whole value when it holds a PEM block (a key with its certificate, as
// the local loop keeps for SNS and PayPal), else its first line (the
// current key; later lines are older keys still accepted).
func SigningEntry(value []byte) []byte {
	v := bytes.TrimSpace(value)
	if bytes.Contains(v, []byte("-----BEGIN ")) {
		return v
	}
	first, _, _ := bytes.Cut(v, []byte("\n"))
	return bytes.TrimSpace(first)
}

// SigningRef returns, for a source whose secret's first entry is first,
// the reference of the key Sign takes when that entry is a public key (an
// Ed25519, ECDSA or RSA preset, or a Standard Webhooks whpk_ key): the
// local loop keeps the private half in NAME-signing beside sm:NAME. ok is
// false when the secret itself signs.
func SigningRef(cfg Config, first []byte) (ref string, ok bool) {
	if !SignsWithPrivateKey(cfg.Scheme) && !bytes.HasPrefix(first, []byte("whpk_")) {
		return "", false
	}
	r, err := secrets.ParseRef(cfg.Secret)
	if err != nil || r.Kind != secrets.SecretManager {
		return "", false
	}
	r.Secret += SigningSuffix
	return r.String(), true
}

// DevKeys makes a fresh key for scheme in the form its provider issues:
// secret is what the source's secret holds, signing what Sign takes (the
// same for HMAC and token schemes, the private half for asymmetric ones).
func DevKeys(scheme string) (secret, signing string, err error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	p, _ := Lookup(scheme)
	switch p.Family {
	case FamilyEd25519:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return "", "", err
		}
		seed := hex.EncodeToString(priv.Seed())
		if p.Key == KeyEd25519Base64 {
			return base64.StdEncoding.EncodeToString(pub), seed, nil
		}
		return hex.EncodeToString(pub), seed, nil
	case FamilyECDSA, FamilyRSA:
		var priv crypto.Signer
		if p.Family == FamilyECDSA {
			priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		} else {
			priv, err = rsa.GenerateKey(rand.Reader, 2048)
		}
		if err != nil {
			return "", "", err
		}
		pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
		if err != nil {
			return "", "", err
		}
		privDER, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return "", "", err
		}
		return base64.StdEncoding.EncodeToString(pubDER), base64.StdEncoding.EncodeToString(privDER), nil
	case FamilySNS:
		// The topic this source accepts, and a key and self-signed
		// certificate that the local runner serves at LocalCertURL.
		pemKey, err := devCertificate()
		if err != nil {
			return "", "", err
		}
		return "arn:aws:sns:us-east-1:000000000000:local-" + hex.EncodeToString(b[:6]), pemKey, nil
	case FamilyPayPal:
		// The webhook id (the secret), and for send the id again with a
		// key and the certificate the local runner serves.
		pemKey, err := devCertificate()
		if err != nil {
			return "", "", err
		}
		id := "LOCAL" + strings.ToUpper(hex.EncodeToString(b[:6]))
		return id, id + "\n" + pemKey, nil
	case FamilyBasic:
		k := "dev:" + hex.EncodeToString(b)
		return k, k, nil
	}
	var k string
	switch {
	case p.Key == KeyWhsec || p.Family == FamilyStandard:
		k = "whsec_" + base64.StdEncoding.EncodeToString(b)
	case p.Key == KeyStripe:
		k = "whsec_" + hex.EncodeToString(b)
	case p.Key == KeyBase64:
		k = base64.StdEncoding.EncodeToString(b)
	case scheme == SchemeBasic:
		k = "dev:" + hex.EncodeToString(b)
	default:
		k = hex.EncodeToString(b)
	}
	return k, k, nil
}
