package verify

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"
)

// The local loop's stand-in for the certificates SNS fetches: the runner
// serves each SNS source's development certificate at LocalCertURL (on
// SNS's real host, so the host rule stays in force), and send signs with
// its private key.

// LocalCertURL is where the local runner serves a development
// certificate (PEM) of a fetched-key family: on the provider's real host,
// named by the certificate's digest.
func LocalCertURL(family string, cert []byte) string {
	d := sha256.Sum256(cert)
	fp := hex.EncodeToString(d[:8])
	if family == FamilyPayPal {
		return "https://api-m.paypal.com/v1/notifications/certs/CERT-local-" + fp
	}
	return "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-local-" + fp + ".pem"
}

// UseLocalCertificates makes this process's fetcher answer the given
// certificate URLs from memory and refuse every other fetch: the local
// runner's stand-in for AWS. It is for the local loop only; the functions
// as deployed never call it.
func UseLocalCertificates(certs map[string][]byte) {
	f := processFetcher()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.client = &http.Client{Transport: localCerts(certs)}
}

type localCerts map[string][]byte

func (c localCerts) RoundTrip(r *http.Request) (*http.Response, error) {
	// A certificate it holds, or an empty 200 for anything else (a
	// SubscribeURL confirmation: the local loop has no AWS to confirm
	// with).
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{}, Request: r,
		Body: io.NopCloser(bytes.NewReader(c[r.URL.String()]))}, nil
}

// devCertificate makes an RSA key and a self-signed certificate, PEM.
func devCertificate() (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "sns.amazonaws.com (local)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	return b.String(), nil
}

// LocalCertificate returns the certificate PEM block of a development
// signing file made by DevKeys.
func LocalCertificate(signing []byte) ([]byte, error) {
	for rest := signing; ; {
		block, after := pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no CERTIFICATE block in the signing key file")
		}
		if block.Type == "CERTIFICATE" {
			return pem.EncodeToMemory(block), nil
		}
		rest = after
	}
}

// localKey reads a DevKeys signing file of a fetched-key family: its RSA
// key and the URL the local runner serves its certificate at.
func localKey(family string, signing []byte) (*rsa.PrivateKey, string, error) {
	cert, err := LocalCertificate(signing)
	if err != nil {
		return nil, "", err
	}
	for rest := signing; ; {
		block, after := pem.Decode(rest)
		if block == nil {
			return nil, "", errors.New("no PRIVATE KEY block in the signing key file")
		}
		if block.Type == "PRIVATE KEY" {
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, "", fmt.Errorf("the signing key: %w", err)
			}
			key, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, "", errors.New("the signing key is not RSA")
			}
			return key, LocalCertURL(family, cert), nil
		}
		rest = after
	}
}

// SignSNS builds the SNS Notification that SNS would post for message on
// topic, signed (SignatureVersion 2) with the private key of signing (a
// DevKeys file), naming the certificate the local runner serves: the
// signer beside the SNS family's verifier, for send and tests.
func SignSNS(signing []byte, topic, message string, now time.Time) ([]byte, error) {
	key, certURL, err := localKey(FamilySNS, signing)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	m := snsMessage{Type: "Notification", MessageId: hex.EncodeToString(id), TopicArn: topic, Message: message,
		Timestamp: now.UTC().Format("2006-01-02T15:04:05.000Z"), SignatureVersion: "2", SigningCertURL: certURL}
	text, err := m.signedString()
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256([]byte(text))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		return nil, err
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	return json.Marshal(m)
}
