package verify

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// paypalScheme verifies PayPal REST webhooks offline, as PayPal's SDKs do
// (PayPal-Java-SDK's com/paypal/base/SSLUtil + Event.validateReceivedEvent):
// an RSA signature (PAYPAL-AUTH-ALGO SHA256withRSA) over
// "transmission_id|transmission_time|webhook_id|crc32(body)", under the
// certificate at PAYPAL-CERT-URL, which must be an https URL on a PayPal
// API host. The webhook id, which PayPal shows when the webhook is created,
// is the source's secret: it binds the signature to this webhook, so an
// event PayPal signed for another webhook (another merchant's) is refused.
type paypalScheme struct {
	p     Provider
	fetch *fetcher
}

var paypalHosts = map[string]bool{
	"api.paypal.com": true, "api-m.paypal.com": true,
	"api.sandbox.paypal.com": true, "api-m.sandbox.paypal.com": true,
}

func paypalCertURL(u *url.URL) bool {
	return paypalHosts[u.Hostname()] && strings.HasPrefix(u.Path, "/v1/notifications/certs/")
}

func newPayPal(p Provider, cfg Config) (scheme, error) {
	if cfg.URL != "" {
		return nil, fmt.Errorf("verify.url: scheme %s does not sign a URL", p.Name)
	}
	return &paypalScheme{p: p}, nil
}

func (s *paypalScheme) useClient(c *http.Client) { s.fetch = newFetcher(c) }

func (s *paypalScheme) needsSecret() bool { return true }

// paypalWebhookID is compiled on first use, like topicARN.
var paypalWebhookID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z0-9]{8,64}$`) })

func (s *paypalScheme) decodeKey(line []byte) (key, error) {
	if !paypalWebhookID().Match(line) {
		return key{}, errors.New("a PayPal source's secret is the webhook ID PayPal shows for the webhook (upper-case letters and digits)")
	}
	return key{secret: line}, nil
}

func (s *paypalScheme) verify(in *input, keys []key) (Identity, error) {
	var v [5]string
	for i, h := range []string{"Paypal-Transmission-Id", "Paypal-Transmission-Time", "Paypal-Transmission-Sig", "Paypal-Cert-Url", "Paypal-Auth-Algo"} {
		var err error
		if v[i], err = in.header(h); err != nil {
			return Identity{}, err
		}
	}
	id, ts, sigText, certURL, algo := v[0], v[1], v[2], v[3], v[4]
	if algo != "SHA256withRSA" {
		return Identity{}, fmt.Errorf("%w: PAYPAL-AUTH-ALGO %q is not SHA256withRSA", ErrMalformedHeader, algo)
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil || len(sig) == 0 {
		return Identity{}, fmt.Errorf("%w: PAYPAL-TRANSMISSION-SIG is not base64", ErrMalformedHeader)
	}
	signedAt, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: PAYPAL-TRANSMISSION-TIME %q is not RFC 3339", ErrMalformedHeader, ts)
	}
	f := s.fetch
	if f == nil {
		f = processFetcher()
	}
	cert, err := f.cert(in.ctx, certURL, paypalCertURL, in.now)
	if err != nil {
		return Identity{}, err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return Identity{}, fmt.Errorf("%w: the PayPal certificate's key is not RSA", ErrUntrustedKeyURL)
	}
	crc := strconv.FormatUint(uint64(crc32.ChecksumIEEE(in.body)), 10)
	for _, k := range keys {
		d := sha256.Sum256([]byte(id + "|" + ts + "|" + string(k.secret) + "|" + crc))
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) == nil {
			return Identity{IDField: s.p.IDField, TypeField: s.p.TypeField, Timestamp: signedAt}, nil
		}
	}
	return Identity{}, ErrBadSignature
}

// sign signs r as PayPal would, with a DevKeys signing file: the webhook
// id on its first line, then the key and the certificate the local runner
// serves (PayPal's own key never leaves PayPal).
func (s *paypalScheme) sign(r *http.Request, body, line []byte, now time.Time) error {
	webhookID, rest, ok := bytes.Cut(line, []byte("\n"))
	if !ok || !paypalWebhookID().Match(bytes.TrimSpace(webhookID)) {
		return errors.New("verify: a PayPal signing file is the webhook id, then its key and certificate (make run writes one)")
	}
	key, certURL, err := localKey(FamilyPayPal, rest)
	if err != nil {
		return err
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	tid, ts := hex.EncodeToString(id), now.UTC().Format(time.RFC3339)
	crc := strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10)
	d := sha256.Sum256([]byte(tid + "|" + ts + "|" + string(bytes.TrimSpace(webhookID)) + "|" + crc))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		return err
	}
	for k, v := range map[string]string{"Paypal-Transmission-Id": tid, "Paypal-Transmission-Time": ts,
		"Paypal-Transmission-Sig": base64.StdEncoding.EncodeToString(sig), "Paypal-Cert-Url": certURL, "Paypal-Auth-Algo": "SHA256withRSA"} {
		r.Header.Set(k, v)
	}
	return nil
}
