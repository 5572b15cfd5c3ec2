package pipeline

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/pattern"
)

// The README's configuration and environment error examples are what
// start-up really says, with the file, line and column, the YAML path, a
// suggestion for a misspelt key, no doubled prefix and no word JSON.
func TestREADMEErrorExamplesAreTheRealTexts(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const withTypo = `store:
  sources:
    - name: github
      verify:
        scheme: githib
        secret: sm:github-webhook-secret
    - name: stripe
      verify:
        scheme: stripe
        secert: sm:stripe-webhook-secret
`
	startUp := func(yaml string) string {
		f, err := config.ParseFile("webhooks.yaml", []byte(yaml))
		if err != nil {
			return err.Error()
		}
		_, err = New(context.Background(), f.Function("store"), memSecrets{},
			func(context.Context, config.Source) (pattern.Pattern, error) { return &recorder{}, nil }, Options{})
		if err == nil {
			t.Fatalf("the README's bad file started:\n%s", yaml)
		}
		return err.Error()
	}
	env := func(vars map[string]string) string {
		_, err := OptionsFromEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
		if err == nil {
			t.Fatalf("%v accepted", vars)
		}
		return err.Error()
	}
	tests := []struct{ name, got, shown string }{
		{"a misspelt key", startUp(withTypo),
			`webhooks.yaml:10:9: store.sources[1].verify.secert: unknown field; did you mean "secret"?`},
		{"an unknown scheme, the key fixed", startUp(strings.Replace(withTypo, "secert", "secret", 1)),
			`webhooks.yaml:5:9: store.sources[0].verify.scheme: unknown scheme "githib"; did you mean "github"?`},
		{"bad environment variables", env(map[string]string{"REQUEST_DEADLINE": "0s", "LOG_LEVEL": "loud"}),
			"REQUEST_DEADLINE=\"0s\": want a positive Go duration such as 8s\nLOG_LEVEL=\"loud\": want debug, info, warn or error"},
	}
	if !strings.Contains(string(readme), withTypo) {
		t.Errorf("README.md does not show the file of its error examples:\n%s", withTypo)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.shown {
				t.Errorf("start-up says\n%s\nthe README shows\n%s", tt.got, tt.shown)
			}
			if !strings.Contains(string(readme), tt.shown) {
				t.Errorf("README.md does not show\n%s", tt.shown)
			}
			if strings.Contains(tt.got, "JSON") {
				t.Errorf("a YAML error mentions JSON: %s", tt.got)
			}
		})
	}
}

// A bad environment variable that every source's pattern reads is one
// message, not one per source, and is not placed in the file.
func TestABadEnvironmentVariableIsReportedOnce(t *testing.T) {
	f, err := config.ParseFile("webhooks.yaml", []byte("store:\n  sources:\n    - {name: a, verify: {scheme: none, allow_cidrs: [127.0.0.0/8]}}\n    - {name: b, verify: {scheme: none, allow_cidrs: [127.0.0.0/8]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	factory := func(context.Context, config.Source) (pattern.Pattern, error) {
		env := config.NewEnv(func(string) (string, bool) { return "0", true })
		env.Int("STORE_BATCH_ROWS", 500)
		return nil, env.Err()
	}
	_, err = New(context.Background(), f.Function("store"), memSecrets{}, factory, Options{})
	if want := `STORE_BATCH_ROWS="0": want a positive whole number`; err == nil || err.Error() != want {
		t.Fatalf("New = %v, want exactly %q", err, want)
	}
}
