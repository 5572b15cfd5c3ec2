package verify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// memorySecrets is a SecretSource over a map, as tests keep their keys.
type memorySecrets map[string][]byte

func (m memorySecrets) Secret(_ context.Context, ref string) ([]byte, error) {
	v, ok := m[ref]
	if !ok {
		return nil, errors.New("no such secret")
	}
	return v, nil
}

// A source's verifier is made once at start-up from its `verify:` block;
// each request is then checked against the body read from it. The secret
// is read through the SecretSource on each request, so a rotated key needs
// no restart.
func ExampleNew() {
	secrets := memorySecrets{"env:GITHUB_WEBHOOK_SECRET": []byte("It's a Secret to Everybody")}
	cfg := verify.Config{Scheme: "github", Secret: "env:GITHUB_WEBHOOK_SECRET"}
	v, err := verify.New("github", cfg, secrets)
	if err != nil {
		fmt.Println(err)
		return
	}

	body := []byte("Hello, World!")
	r := httptest.NewRequest("POST", "/github", bytes.NewReader(body))
	r.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	r.Header.Set("X-GitHub-Event", "push")
	// GitHub's own published example signature of this body and key.
	r.Header.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	id, err := v.Verify(context.Background(), r, body)
	fmt.Println(id.ID, id.Type, err)

	// One changed byte of the body, and the request is refused.
	_, err = v.Verify(context.Background(), r, []byte("Hello, World?"))
	fmt.Println(errors.Is(err, verify.ErrBadSignature))
	// Output:
	// 72d3162e-cc78-11e3-81ab-4c9367dc0958 push <nil>
	// true
}

// Sign signs a request as the provider would, so that tests and the send
// command sign with the code the receiver trusts.
func ExampleSign() {
	cfg := verify.Config{Scheme: "stripe", Secret: "env:STRIPE_WEBHOOK_SECRET"}
	key := []byte("whsec_exampleexampleexample")
	now := time.Unix(1700000000, 0)
	body := []byte(`{"id":"evt_1","type":"payment_intent.succeeded"}`)

	r := httptest.NewRequest("POST", "/stripe", bytes.NewReader(body))
	if err := verify.Sign(cfg, key, now, r, body); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Header.Get("Stripe-Signature"))

	// The receiver, at the same time, accepts what Sign produced.
	v, err := verify.New("stripe", cfg, memorySecrets{cfg.Secret: key}, verify.WithClock(func() time.Time { return now }))
	if err != nil {
		fmt.Println(err)
		return
	}
	id, err := v.Verify(context.Background(), r, body)
	fmt.Println(id.Timestamp.Equal(now), err)
	// Output:
	// t=1700000000,v1=1e2a7a8380178a76f939f0c9842fca1c5473937089eb2ef0d8ecf32e1036f20b
	// true <nil>
}
