package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{"duplicate name", "relay:\n  sources:\n    - name: a\n      verify: {scheme: none}\n    - name: a\n      verify: {scheme: none}\n", `relay.sources[1].name: duplicate source "a"`},
		{"missing scheme", "trigger:\n  sources:\n    - name: a\n", "trigger.sources[0].verify.scheme: missing"},
		{"not yaml", "store: [", "parse"},
		{"the crc source's key verifying another scheme",
			"store:\n  sources:\n    - name: x\n      verify: {scheme: twitter, secret: sm:x, handshakes: [crc], allow_cidrs: [192.0.2.0/24]}\n" +
				"relay:\n  sources:\n    - name: gh\n      verify: {scheme: github, secret: sm:x}\n",
			`relay.sources[0].verify.secret: sm:x is the key that store.sources[0]'s "crc" handshake signs with`},
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
	if err := os.WriteFile(path, []byte("store:\n  sources:\n    - name: only\n      verify: {scheme: none}\n"), 0o600); err != nil {
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
