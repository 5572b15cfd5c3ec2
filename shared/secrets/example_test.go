package secrets_test

import (
	"context"
	"fmt"

	"github.com/cloudhooks/webhooks/shared/secrets"
)

// A Resolver reads every kind of reference; here an environment variable,
// with a lookup function standing in for the process environment.
func ExampleResolver_Secret() {
	r := secrets.NewResolver(secrets.Options{
		Getenv: func(name string) (string, bool) { return "whsec_example", name == "STRIPE_SECRET" },
	})
	defer r.Close()
	value, err := r.Secret(context.Background(), "env:STRIPE_SECRET")
	fmt.Println(string(value), err)
	// Output: whsec_example <nil>
}

func ExampleParseRef() {
	ref, err := secrets.ParseRef("projects/my-project/secrets/github-webhook")
	fmt.Println(ref.SecretID(), ref.Version, err)
	fmt.Println(ref)
	// Output:
	// github-webhook latest <nil>
	// projects/my-project/secrets/github-webhook/versions/latest
}
