package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkFamilies verifies one signed request per family beside the
// bare crypto operation over the same bytes (the floor of the work), at
// 1 KiB (most webhooks) and 64 KiB: `make bench` prints them side by side.
func BenchmarkFamilies(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		body := benchBody(size)
		label := "1KiB"
		if size > 1<<10 {
			label = "64KiB"
		}
		for _, name := range []string{"github", "stripe", "discord", "sendgrid", "fireblocks"} {
			s, r, keys := benchRequest(b, name, body)
			b.Run(name+"/"+label+"/ours", func(b *testing.B) {
				benchVerify(b, s, r, body, keys, time.Now())
			})
			b.Run(name+"/"+label+"/floor", func(b *testing.B) {
				floor := benchFloor(b, name, r, body, keys)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if !floor() {
						b.Fatal("the floor refused the request")
					}
				}
			})
		}
		s, body, at, cert, keys := benchSNS(b, size)
		r := httptest.NewRequest(http.MethodPost, "/sns", bytes.NewReader(body))
		b.Run("aws-sns/"+label+"/ours-warm-cache", func(b *testing.B) {
			benchVerify(b, s, r, body, keys, at)
		})
		b.Run("aws-sns/"+label+"/floor", func(b *testing.B) {
			var m snsMessage
			if err := json.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
			text, _ := m.signedString()
			sig, _ := base64.StdEncoding.DecodeString(m.Signature)
			pub := cert.PublicKey.(*rsa.PublicKey)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var msg snsMessage
				_ = json.Unmarshal(body, &msg)
				d := sha256.Sum256([]byte(text))
				if rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) != nil {
					b.Fatal("refused")
				}
			}
		})
	}
}

func benchBody(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"id":"evt_1","type":"payment_intent.succeeded","data":"`)
	for buf.Len() < n-2 {
		buf.WriteByte('x')
	}
	buf.WriteString(`"}`)
	return buf.Bytes()
}

func benchVerify(b *testing.B, s scheme, r *http.Request, body []byte, keys []key, now time.Time) {
	b.Helper()
	in := &input{ctx: context.Background(), r: r, body: body, now: now, tolerance: DefaultTolerance}
	if _, err := s.verify(in, keys); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.verify(in, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRequest signs a request for the named preset with a fresh key.
func benchRequest(b *testing.B, name string, body []byte) (scheme, *http.Request, []key) {
	b.Helper()
	public, private, err := DevKeys(name)
	if err != nil {
		b.Fatal(err)
	}
	s, err := newScheme(Config{Scheme: name})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/"+name, bytes.NewReader(body))
	r.Header.Set(HeaderGitHubDelivery, "d-1")
	if err := s.sign(r, body, []byte(private), time.Now()); err != nil {
		b.Fatal(err)
	}
	k, err := s.decodeKey([]byte(public))
	if err != nil {
		b.Fatal(err)
	}
	return s, r, []key{k}
}

// benchFloor is the bare check of the preset's crypto over the same
// signed bytes, its inputs decoded once, outside the loop.
func benchFloor(b *testing.B, name string, r *http.Request, body []byte, keys []key) func() bool {
	b.Helper()
	p, _ := Lookup(name)
	s, _ := newScheme(Config{Scheme: name})
	ss := s.(*signedScheme)
	values, _ := ss.sigValues(&input{r: r})
	raw, ts, _ := ss.parse(values)
	if ss.timeHdr != "" {
		ts = r.Header.Get(ss.timeHdr)
	}
	var buf [512]byte
	sig, _ := ss.decodeSig(raw[0], buf[:])
	sig = bytes.Clone(sig)
	pre, post := ss.render(r, ts, "", "")
	msg := append(append(append([]byte{}, pre...), body...), post...)
	switch p.Family {
	case FamilyHMAC:
		return func() bool {
			m := hmac.New(sha256.New, keys[0].secret)
			m.Write(msg)
			return hmac.Equal(m.Sum(nil), sig)
		}
	case FamilyEd25519:
		pub := keys[0].public.(ed25519.PublicKey)
		return func() bool { return ed25519.Verify(pub, msg, sig) }
	case FamilyECDSA:
		pub := keys[0].public.(*ecdsa.PublicKey)
		return func() bool { d := sha256.Sum256(msg); return ecdsa.VerifyASN1(pub, d[:], sig) }
	case FamilyRSA:
		pub := keys[0].public.(*rsa.PublicKey)
		return func() bool {
			d := crypto.SHA512.New()
			d.Write(msg)
			return rsa.VerifyPKCS1v15(pub, crypto.SHA512, d.Sum(nil), sig) == nil
		}
	}
	b.Fatalf("no floor for family %s", p.Family)
	return nil
}

// benchSNS makes an SNS notification of about size bytes signed under a
// fresh certificate that the scheme's fetcher serves from its cache after
// the first request.
func benchSNS(b *testing.B, size int) (scheme, []byte, time.Time, *x509.Certificate, []key) {
	b.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		b.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	const certURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-bench.pem"
	m := snsMessage{Type: "Notification", MessageId: "m-1", TopicArn: "arn:aws:sns:us-east-1:123456789012:bench",
		Message: strings.Repeat("x", size), Timestamp: now.UTC().Format(time.RFC3339), SignatureVersion: "2", SigningCertURL: certURL}
	text, _ := m.signedString()
	d := sha256.Sum256([]byte(text))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, d[:])
	if err != nil {
		b.Fatal(err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	body, _ := json.Marshal(m)
	s, _ := newScheme(Config{Scheme: "aws-sns"})
	s.(fetching).useClient(&http.Client{Transport: certServer{certURL: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}})
	return s, body, now, cert, []key{{secret: []byte(m.TopicArn)}}
}
