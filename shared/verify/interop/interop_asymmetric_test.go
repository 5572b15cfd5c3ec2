package interop_test

// The asymmetric presets ("sendgrid", ECDSA P-256; "discord", Ed25519),
// against their providers' official verifiers.
//
// Neither SDK signs (a provider's private key never leaves the provider),
// so the other direction is SendGrid's published vector, which its SDK's
// own test verifies. Standard Webhooks v1a (Ed25519) has no case here: the
// reference Go library and svix-go verify and sign v1 only.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// SendGrid Event Webhook: ECDSA P-256 over timestamp+body, the ASN.1
// signature in base64 in X-Twilio-Email-Event-Webhook-Signature, the
// secret the base64 DER public key SendGrid shows.

const sendgridScheme = "sendgrid"

// sendgridKeys is a P-256 key pair as our two halves take it: the signer
// a PKCS#8 private key (PEM), the secret the public key in base64 DER.
func sendgridKeys(t *testing.T) (private, public string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), base64.StdEncoding.EncodeToString(spki)
}

func TestSendGridEventWebhookAcceptsOurSignature(t *testing.T) {
	private, public := sendgridKeys(t)
	_, otherPublic := sendgridKeys(t)
	body := []byte(`[{"email":"a@example.com","event":"delivered","sg_event_id":"ev1","timestamp":1700000000},{"email":"b@example.com","event":"open","sg_event_id":"ev2","timestamp":1700000001}]` + "\r\n")
	r := ourSigned(t, verify.Config{Scheme: sendgridScheme}, private, time.Now(), "https://hooks.example.com/sendgrid", "application/json", body)
	sig, ts := r.Header.Get(eventwebhook.VerificationHTTPHeader), r.Header.Get(eventwebhook.TimestampHTTPHeader)
	if sig == "" || ts == "" {
		t.Fatalf("our signature is not in SendGrid's headers: %v", r.Header)
	}

	pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(public)
	if err != nil {
		t.Fatalf("sendgrid-go cannot read the public key we take as the secret: %v", err)
	}
	if ok, err := eventwebhook.VerifySignature(pub, body, sig, ts); err != nil || !ok {
		t.Fatalf("sendgrid-go refuses our signature %q at %s: ok=%v, %v", sig, ts, ok, err)
	}
	other, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(otherPublic)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := eventwebhook.VerifySignature(other, body, sig, ts); ok {
		t.Fatal("sendgrid-go accepted our signature under another key")
	}
	if ok, _ := eventwebhook.VerifySignature(pub, tampered(body), sig, ts); ok {
		t.Fatal("sendgrid-go accepted our signature over another body")
	}
	// The timestamp is signed.
	if ok, _ := eventwebhook.VerifySignature(pub, body, sig, ts+"0"); ok {
		t.Fatal("sendgrid-go accepted our signature with another timestamp")
	}

	// And the public key SendGrid's verifier took is the secret ours takes.
	if _, err := ourVerifier(t, verify.Config{Scheme: sendgridScheme}, public, time.Now()).Verify(context.Background(), r, body); err != nil {
		t.Fatalf("our verifier refuses our signature under the key sendgrid-go accepted: %v", err)
	}
}

// SendGrid's published vector, from sendgrid-go v3.16.1
// helpers/eventwebhook/eventwebhook_test.go (publicKey, signature,
// timestamp and generateTestPayload: one dropped event, JSON with Go's
// sorted keys, unescaped HTML, ending in CRLF).
const (
	sendgridVectorKey     = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
	sendgridVectorSig     = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
	sendgridVectorTS      = "1600112502"
	sendgridVectorPayload = `[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address",` +
		`"sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",` +
		`"sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",` +
		`"smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]` + "\r\n"
)

func TestSendGridPublishedVectorVerifiesWithUs(t *testing.T) {
	body := []byte(sendgridVectorPayload)
	// The vector as transcribed is the one sendgrid-go accepts.
	pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(sendgridVectorKey)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := eventwebhook.VerifySignature(pub, body, sendgridVectorSig, sendgridVectorTS); err != nil || !ok {
		t.Fatalf("sendgrid-go refuses its own vector as transcribed: ok=%v, %v", ok, err)
	}

	sec, _ := strconv.ParseInt(sendgridVectorTS, 10, 64)
	at := time.Unix(sec, 0)
	r := post("https://hooks.example.com/sendgrid", "application/json", body)
	r.Header.Set(eventwebhook.VerificationHTTPHeader, sendgridVectorSig)
	r.Header.Set(eventwebhook.TimestampHTTPHeader, sendgridVectorTS)
	id, err := ourVerifier(t, verify.Config{Scheme: sendgridScheme}, sendgridVectorKey, at).Verify(context.Background(), r, body)
	if err != nil {
		t.Fatalf("SendGrid's published vector refused: %v", err)
	}
	if !id.Timestamp.Equal(at) {
		t.Fatalf("Identity.Timestamp = %v, want the signed %v", id.Timestamp, at)
	}
	if _, err := ourVerifier(t, verify.Config{Scheme: sendgridScheme}, sendgridVectorKey, at).Verify(context.Background(), r, tampered(body)); !errors.Is(err, verify.ErrBadSignature) {
		t.Fatalf("SendGrid's vector signature over another body: %v, want ErrBadSignature", err)
	}
	if _, err := ourVerifier(t, verify.Config{Scheme: sendgridScheme}, sendgridVectorKey, at.Add(time.Hour)).Verify(context.Background(), r, body); !errors.Is(err, verify.ErrTooOld) {
		t.Fatalf("SendGrid's vector an hour later: %v, want ErrTooOld", err)
	}
}

// Discord interactions: Ed25519 over timestamp+body, hex in
// X-Signature-Ed25519, the secret the application's hex public key; our
// signer takes the private key as a hex seed or in base64.

const discordScheme = "discord"

func TestDiscordGoAcceptsOurSignature(t *testing.T) {
	seed := sha256.Sum256([]byte("interop discord application key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	otherSeed := sha256.Sum256([]byte("another application"))
	otherPub := ed25519.NewKeyFromSeed(otherSeed[:]).Public().(ed25519.PublicKey)
	body := []byte(`{"type":2,"id":"786008729715212338","application_id":"775799577604522054","data":{"name":"blep"},"token":"A_UNIQUE_TOKEN","version":1}`)

	for name, signingKey := range map[string]string{
		"hex seed":           hex.EncodeToString(seed[:]),
		"base64 private key": base64.StdEncoding.EncodeToString(priv),
		"base64 seed":        base64.StdEncoding.EncodeToString(seed[:]),
	} {
		t.Run(name, func(t *testing.T) {
			r := ourSigned(t, verify.Config{Scheme: discordScheme}, signingKey, time.Now(), "https://hooks.example.com/discord", "application/json", body)
			if r.Header.Get("X-Signature-Ed25519") == "" || r.Header.Get("X-Signature-Timestamp") == "" {
				t.Fatalf("our signature is not in Discord's headers: %v", r.Header)
			}
			if !discordgo.VerifyInteraction(r, pub) {
				t.Fatalf("discordgo refuses our signature (%v)", r.Header)
			}
			// VerifyInteraction reads the body and puts a copy back.
			if got, _ := io.ReadAll(r.Body); string(got) != string(body) {
				t.Fatalf("the body after discordgo = %q", got)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if discordgo.VerifyInteraction(r, otherPub) {
				t.Fatal("discordgo accepted our signature under another application's key")
			}
			r.Body = io.NopCloser(bytes.NewReader(tampered(body)))
			if discordgo.VerifyInteraction(r, pub) {
				t.Fatal("discordgo accepted our signature over another body")
			}

			// The hex public key discordgo took is the secret ours takes.
			if _, err := ourVerifier(t, verify.Config{Scheme: discordScheme}, hex.EncodeToString(pub), time.Now()).Verify(context.Background(), r, body); err != nil {
				t.Fatalf("our verifier refuses our signature under the key discordgo accepted: %v", err)
			}
		})
	}
}
