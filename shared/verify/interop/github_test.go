package interop_test

// go-github (github.com/google/go-github/v74/github): ValidatePayload
// verifies X-Hub-Signature-256 over the raw body, JSON or form-encoded. It
// has no signer.

import (
	"bytes"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-github/v74/github"

	"github.com/cloudhooks/webhooks/shared/verify"
)

const (
	githubSecret = "It's a Secret to Everybody"
	githubOther  = "It's another secret, to nobody"
)

func TestGoGitHubAcceptsOurSignature(t *testing.T) {
	event := `{"ref":"refs/heads/main","repository":{"full_name":"octo/hello"},"head_commit":{"message":"ünïcode & spaces"}}`
	for _, tt := range []struct {
		name, contentType string
		body              []byte
	}{
		{"json", "application/json", []byte(event)},
		// GitHub signs the form as sent, not the JSON inside it.
		{"form", "application/x-www-form-urlencoded", []byte("payload=" + url.QueryEscape(event))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// validate has go-github check a request that carries our
			// signature of tt.body and the body sent, under secret.
			validate := func(sent []byte, secret string) error {
				r := ourSigned(t, verify.Config{Scheme: verify.SchemeGitHub}, githubSecret, time.Now(), "https://hooks.example.com/github", tt.contentType, tt.body)
				r.Body = io.NopCloser(bytes.NewReader(sent))
				payload, err := github.ValidatePayload(r, []byte(secret))
				if err == nil && string(payload) != event {
					t.Fatalf("go-github's payload = %q, want the event %q", payload, event)
				}
				return err
			}
			if err := validate(tt.body, githubSecret); err != nil {
				t.Fatalf("go-github refuses our signature: %v", err)
			}
			if err := validate(tt.body, githubOther); err == nil {
				t.Fatal("go-github accepted our signature under another secret")
			}
			if err := validate(tampered(tt.body), githubSecret); err == nil {
				t.Fatal("go-github accepted our signature over another body")
			}
		})
	}
}
