package verify

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// snsScheme verifies Amazon SNS HTTP/S deliveries
// (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html):
// an RSA signature (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA)
// over a string rebuilt from the message's fields, under the certificate
// at SigningCertURL, which must be an https URL on sns.<region>.amazonaws.com.
//
// A valid signature proves only that SNS sent the message, not from whose
// topic: anyone can subscribe this URL to a topic of their own. So the
// source's secret lists the topic ARNs it accepts, one per line, and a
// message from any other topic is refused.
//
// A SubscriptionConfirmation is verified the same way, then confirmed by a
// GET of its SubscribeURL (on the same hosts), once; it and an
// UnsubscribeConfirmation are acknowledged without reaching the function.
type snsScheme struct {
	p     Provider
	fetch *fetcher

	mu        sync.Mutex
	confirmed map[string]bool // SubscribeURLs already confirmed
}

// snsHost is the host rule of AWS's own validators (aws-js-sns-message-
// validator, the PHP SDK's MessageValidator): sns.<region>.amazonaws.com,
// or .amazonaws.com.cn in China.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]{3,}\.amazonaws\.com(\.cn)?$`)

func snsCertURL(u *url.URL) bool {
	return snsHost.MatchString(u.Hostname()) && strings.HasSuffix(u.Path, ".pem")
}

func snsSubscribeURL(u *url.URL) bool { return snsHost.MatchString(u.Hostname()) }

func newSNS(p Provider, cfg Config) (scheme, error) {
	if cfg.URL != "" {
		return nil, fmt.Errorf("verify.url: scheme %s does not sign a URL", p.Name)
	}
	return &snsScheme{p: p, confirmed: map[string]bool{}}, nil
}

func (s *snsScheme) useClient(c *http.Client) { s.fetch = newFetcher(c) }

func (s *snsScheme) fetcher() *fetcher {
	if s.fetch != nil {
		return s.fetch
	}
	return processFetcher()
}

func (s *snsScheme) needsSecret() bool { return true }

// topicARN is compiled on first use: its {1,256} alone costs a Trigger,
// Relay or Store start a quarter of a megabyte of allocations when no
// source is SNS.
var topicARN = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$`)
})

func (s *snsScheme) decodeKey(line []byte) (key, error) {
	if !topicARN().Match(line) {
		return key{}, errors.New("an SNS source's secret lists topic ARNs (arn:aws:sns:REGION:ACCOUNT:TOPIC), one per line")
	}
	return key{secret: line}, nil
}

// snsMessage is the JSON document SNS posts.
type snsMessage struct {
	Type, MessageId, Token, TopicArn, Subject, Message, Timestamp string
	SignatureVersion, Signature, SigningCertURL, SubscribeURL     string
}

// signedString is the string SNS signs: the named fields, each as
// "Name\nValue\n", in this order, Subject only when present.
func (m *snsMessage) signedString() (string, error) {
	var fields []string
	switch m.Type {
	case "Notification":
		fields = []string{"Message", m.Message, "MessageId", m.MessageId}
		if m.Subject != "" {
			fields = append(fields, "Subject", m.Subject)
		}
		fields = append(fields, "Timestamp", m.Timestamp, "TopicArn", m.TopicArn, "Type", m.Type)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		fields = []string{"Message", m.Message, "MessageId", m.MessageId, "SubscribeURL", m.SubscribeURL,
			"Timestamp", m.Timestamp, "Token", m.Token, "TopicArn", m.TopicArn, "Type", m.Type}
	default:
		return "", fmt.Errorf("%w: SNS message type %q", ErrMalformedHeader, m.Type)
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

func (s *snsScheme) verify(in *input, keys []key) (Identity, error) {
	var m snsMessage
	if err := json.Unmarshal(in.body, &m); err != nil {
		return Identity{}, fmt.Errorf("%w: the body is not an SNS message", ErrMalformedHeader)
	}
	if h, err := in.optionalHeader("X-Amz-Sns-Message-Type"); err != nil {
		return Identity{}, err
	} else if h != "" && h != m.Type {
		return Identity{}, fmt.Errorf("%w: x-amz-sns-message-type %q is not the message's Type %q", ErrMalformedHeader, h, m.Type)
	}
	text, err := m.signedString()
	if err != nil {
		return Identity{}, err
	}
	var h crypto.Hash
	switch m.SignatureVersion {
	case "1":
		h = crypto.SHA1
	case "2":
		h = crypto.SHA256
	default:
		return Identity{}, fmt.Errorf("%w: SignatureVersion %q is not 1 or 2", ErrMalformedHeader, m.SignatureVersion)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || len(sig) == 0 {
		return Identity{}, fmt.Errorf("%w: Signature is not base64", ErrMalformedHeader)
	}
	cert, err := s.fetcher().cert(in.ctx, m.SigningCertURL, snsCertURL, in.now)
	if err != nil {
		return Identity{}, err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return Identity{}, fmt.Errorf("%w: the SNS certificate's key is not RSA", ErrUntrustedKeyURL)
	}
	if err := rsa.VerifyPKCS1v15(pub, h, snsDigest(h, text), sig); err != nil {
		return Identity{}, ErrBadSignature
	}
	// Signed by SNS: now the topic must be one this source accepts.
	if !anyTopic(keys, m.TopicArn) {
		return Identity{}, fmt.Errorf("%w: topic %s is not one this source accepts", ErrBadSignature, m.TopicArn)
	}
	signedAt, err := time.Parse(time.RFC3339Nano, m.Timestamp)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: Timestamp %q is not RFC 3339", ErrMalformedHeader, m.Timestamp)
	}
	id := Identity{ID: m.MessageId, Type: m.Type, Timestamp: signedAt}
	switch m.Type {
	case "SubscriptionConfirmation":
		if err := s.confirm(in, m.SubscribeURL); err != nil {
			return Identity{}, err
		}
		id.Acknowledge = true
	case "UnsubscribeConfirmation":
		id.Acknowledge = true
	}
	return id, nil
}

func snsDigest(h crypto.Hash, text string) []byte {
	if h == crypto.SHA1 {
		d := sha1.Sum([]byte(text))
		return d[:]
	}
	d := sha256.Sum256([]byte(text))
	return d[:]
}

func anyTopic(keys []key, arn string) bool {
	for _, k := range keys {
		if string(k.secret) == arn {
			return true
		}
	}
	return false
}

// confirm GETs a verified SubscriptionConfirmation's SubscribeURL, once per
// URL: SNS resends the confirmation until it is confirmed, and a failed GET
// is a 503 so that it does.
func (s *snsScheme) confirm(in *input, raw string) error {
	u, err := checkedURL(raw, snsSubscribeURL)
	if err != nil {
		return err
	}
	s.mu.Lock()
	done := s.confirmed[u.String()]
	s.mu.Unlock()
	if done {
		return nil
	}
	if _, err := s.fetcher().get(in.ctx, u.String(), 64<<10); err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.confirmed) >= maxCerts {
		clear(s.confirmed)
	}
	s.confirmed[u.String()] = true
	s.mu.Unlock()
	return nil
}

func (s *snsScheme) sign(*http.Request, []byte, []byte, time.Time) error {
	return errors.New("verify: SNS signs its messages with AWS's certificate, inside the body; send cannot sign as SNS")
}
