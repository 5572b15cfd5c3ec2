package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEmbeddedConfigIsValid(t *testing.T) {
	f, err := Parse(Embedded())
	if err != nil {
		t.Fatalf("embedded webhooks.yaml: %v", err)
	}
	if f.Store == nil || len(f.Store.Sources) == 0 {
		t.Fatal("embedded configuration has no store sources")
	}
}

func TestParseNamesTheBadField(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", "store:\n  sources:\n    - name: a\n      verfy: {}\n", "unknown field"},
		{"bad name", "store:\n  sources:\n    - name: A/b\n      verify: {scheme: github}\n", "store.sources[0].name"},
		{"name longer than a path segment may be", "store:\n  sources:\n    - name: " + strings.Repeat("a", 64) + "\n      verify: {scheme: github}\n", "store.sources[0].name"},
		{"duplicate name", "relay:\n  sources:\n    - name: a\n      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}\n    - name: a\n      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}\n", `relay.sources[1].name: duplicate source "a"`},
		{"missing scheme", "trigger:\n  sources:\n    - name: a\n", "trigger.sources[0].verify.scheme: missing"},
		{"not yaml", "store: [", "webhooks.yaml:1: did not find expected node content"},
		{"the crc source's key verifying another scheme",
			"store:\n  sources:\n    - name: x\n      verify: {scheme: twitter, secret: sm:x, handshakes: [crc], allow_cidrs: [192.0.2.0/24]}\n" +
				"relay:\n  sources:\n    - name: gh\n      verify: {scheme: github, secret: sm:x}\n",
			`relay.sources[0].verify.secret: sm:x is the key that store.sources[0]'s "crc" handshake signs with`},
	}
	// The same attack with the secret written another way: a reference is
	// compared as the secret it names, not as text.
	for _, other := range []string{"sm:x@latest", "sm:x@2", "projects/p/secrets/x", "projects/p/secrets/x/versions/latest"} {
		tests = append(tests, struct{ name, yaml, want string }{"the crc source's key written as " + other,
			"store:\n  sources:\n    - name: x\n      verify: {scheme: twitter, secret: sm:x, handshakes: [crc], allow_cidrs: [192.0.2.0/24]}\n" +
				"relay:\n  sources:\n    - name: gh\n      verify: {scheme: github, secret: \"" + other + "\"}\n",
			"relay.sources[0].verify.secret: " + other + " is the key that store.sources[0]'s \"crc\" handshake signs with"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseAcceptsTheLongestSourceName(t *testing.T) {
	name := strings.Repeat("a", 63)
	f, err := Parse([]byte("store:\n  sources:\n    - name: " + name + "\n      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}\n"))
	if err != nil {
		t.Fatalf("a %d-character name: %v", len(name), err)
	}
	if got := f.Store.Sources[0].Name; got != name {
		t.Fatalf("name = %q, want %q", got, name)
	}
}

// X's consumer secret may serve X sources in several functions: the
// twitter scheme refuses every body that the crc handshake signs.
func TestCRCSecretIsSharedByTwitterSources(t *testing.T) {
	yaml := "store:\n  sources:\n    - name: x\n      verify: {scheme: twitter, secret: sm:x, handshakes: [crc], allow_cidrs: [192.0.2.0/24]}\n" +
		"relay:\n  sources:\n    - name: x\n      verify: {scheme: twitter, secret: sm:x}\n"
	if _, err := Parse([]byte(yaml)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadPrefersTheFileNamedByTheEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.yaml")
	if err := os.WriteFile(path, []byte("store:\n  sources:\n    - name: only\n      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(func(k string) (string, bool) { return path, k == EnvPath })
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Store.Sources[0].Name; got != "only" || f.Relay != nil {
		t.Fatalf("Load read %q, relay %v; want the file's single source", got, f.Relay)
	}
	if _, err := Load(func(k string) (string, bool) { return "/does/not/exist", k == EnvPath }); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}

// Every message points at the line: file, line and column, the YAML
// path, what is wrong, and for a misspelt key the key it probably is.
func TestErrorsPointAtTheLine(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"misspelt key", "store:\n  sources:\n    - name: a\n      verify:\n        scheme: none\n        handshakse: [graph]\n",
			`w.yaml:6:9: store.sources[0].verify.handshakse: unknown field; did you mean "handshakes"?`},
		{"misspelt section", "stroe:\n  sources: []\n", `w.yaml:1:1: stroe: unknown field; did you mean "store"?`},
		{"a key of any characters", "store:\n  sources: []\nmy key.2: x\n", "w.yaml:3:1: my key.2: unknown field (known: relay, store, trigger)"},
		{"nothing like any key", "store:\n  sources:\n    - name: a\n      colour: red\n",
			"w.yaml:4:7: store.sources[0].colour: unknown field (known: name, payload_field, rules, verify)"},
		{"a string where a list belongs", "store:\n  sources:\n    - name: a\n      verify: {scheme: none, handshakes: graph}\n",
			`w.yaml:4:30: store.sources[0].verify.handshakes: want a list, got "graph"`},
		{"a number where a string belongs", "store:\n  sources:\n    - name: 123\n      verify: {scheme: none}\n",
			`w.yaml:3:7: store.sources[0].name: want a string (quote it), got "123"`},
		{"a key given twice", "store:\n  sources: []\n  sources: []\n", `w.yaml:3: mapping key "sources" already defined at line 2`},
		{"validation", "relay:\n  sources:\n    - name: a\n      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}\n    - name: a\n      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}\n",
			`w.yaml:5:7: relay.sources[1].name: duplicate source "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("w.yaml", []byte(tt.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("ParseFile error =\n%v\nwant it to start with\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), "JSON") || strings.Count(err.Error(), "w.yaml") != 1 {
				t.Errorf("error %q says JSON or names the file twice", err)
			}
		})
	}
}

// Rules reach their pattern as the JSON of what the YAML says: aliases and
// merge keys resolved, every key a string, text as written.
func TestRulesReachThePatternAsJSON(t *testing.T) {
	yaml := "relay:\n  sources:\n    - name: a\n      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}\n" +
		"      rules:\n        - &base {name: r, events: [push], to: {topic: t}, data: {1: one, true: yes, at: 2001-12-14, html: <b>}}\n" +
		"        - {<<: *base, name: s}\n"
	f, err := ParseFile("w.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"data":{"1":"one","at":"2001-12-14","html":"<b>","true":"yes"},"events":["push"],"name":"r","to":{"topic":"t"}},` +
		`{"data":{"1":"one","at":"2001-12-14","html":"<b>","true":"yes"},"events":["push"],"name":"s","to":{"topic":"t"}}]`
	if got := string(f.Relay.Sources[0].Rules); got != want {
		t.Fatalf("rules =\n%s\nwant\n%s", got, want)
	}
}

// A problem that a function finds in a source's rules or verify block
// is placed at its line too, and a bad environment variable is not
// placed in the file at all.
func TestLocatedPlacesAFunctionsFindingsInTheFile(t *testing.T) {
	yaml := "relay:\n  sources:\n    - name: a\n      verify: {scheme: none, allow_cidrs: [192.0.2.0/24]}\n      rules:\n        - name: r\n          to: {topc: x}\n"
	f, err := ParseFile("w.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnv(func(string) (string, bool) { return "soon", true })
	env.Duration("WAIT", time.Second)
	err = f.Function("relay").Located(0, errors.Join(errors.New(`rules[0].to.topc: unknown field; did you mean "topic"?`), env.Err()))
	want := "w.yaml:7:16: relay.sources[0].rules[0].to.topc: unknown field; did you mean \"topic\"?\n" +
		`WAIT="soon": want a positive Go duration such as 1s`
	if err == nil || err.Error() != want {
		t.Fatalf("Located =\n%v\nwant\n%s", err, want)
	}
}

// Any bytes give a file or an error, never a panic: the locator walks
// whatever tree the YAML parser returns.
func FuzzParseFile(f *testing.F) {
	f.Add(Embedded())
	f.Add([]byte("store:\n  sources:\n    - name: a\n      verify: {scheme: none, handshakes: graph}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("store: {sources: [{name: 1, verify: {scheme: [x], allow_cidrs: {a: b}, trusted_proxies: x}}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile("w.yaml", data)
		if (file == nil) == (err == nil) {
			t.Fatalf("ParseFile = %v, %v: want a file or an error", file, err)
		}
	})
}
