package secrets

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	long := strings.Repeat("a", 255)
	tests := []struct {
		name string
		in   string
		want Ref
		str  string // String(), when it differs from in
	}{
		{name: "sm name means latest in the default project", in: "sm:github", want: Ref{Kind: SecretManager, Secret: "github", Version: "latest"}},
		{name: "sm name with a version number", in: "sm:github@3", want: Ref{Kind: SecretManager, Secret: "github", Version: "3"}},
		{name: "sm name with latest normalizes to no version", in: "sm:github@latest", want: Ref{Kind: SecretManager, Secret: "github", Version: "latest"}, str: "sm:github"},
		{name: "secret id of 255 characters with - and _", in: "sm:A-b_" + long[:248], want: Ref{Kind: SecretManager, Secret: "A-b_" + long[:248], Version: "latest"}},
		{name: "full resource name", in: "projects/p-1/secrets/s/versions/7", want: Ref{Kind: SecretManager, Project: "p-1", Secret: "s", Version: "7"}},
		{name: "resource name without version means latest", in: "projects/123/secrets/s", want: Ref{Kind: SecretManager, Project: "123", Secret: "s", Version: "latest"}, str: "projects/123/secrets/s/versions/latest"},
		{name: "domain-scoped project", in: "projects/example.com:p/secrets/s/versions/latest", want: Ref{Kind: SecretManager, Project: "example.com:p", Secret: "s", Version: "latest"}},
		{name: "env var", in: "env:STRIPE_SECRET", want: Ref{Kind: Env, Name: "STRIPE_SECRET"}},
		{name: "file path", in: "file:/secrets/github key", want: Ref{Kind: File, Name: "/secrets/github key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRef(tt.in)
			if err != nil {
				t.Fatalf("ParseRef(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseRef(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if got.String() != str {
				t.Errorf("String() = %q, want %q", got.String(), str)
			}
		})
	}
}

func TestParseRefRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"unknown scheme", "vault:x"},
		{"bare name", "github"},
		{"sm without name", "sm:"},
		{"sm with empty version", "sm:x@"},
		{"secret id over 255 characters", "sm:" + strings.Repeat("a", 256)},
		{"secret id with a dot", "sm:a.b"},
		{"secret id with a slash", "sm:a/b"},
		{"version zero", "sm:x@0"},
		{"version with leading zero", "sm:x@01"},
		{"version neither number nor latest", "sm:x@newest"},
		{"negative version", "sm:x@-1"},
		{"resource name without project", "projects//secrets/s"},
		{"resource name with wrong collection", "projects/p/keys/s"},
		{"resource name with trailing slash", "projects/p/secrets/s/"},
		{"resource name with extra parts", "projects/p/secrets/s/versions/1/x"},
		{"resource name with bad version", "projects/p/secrets/s/versions/x"},
		{"env without name", "env:"},
		{"env name starting with a digit", "env:1X"},
		{"env name with =", "env:A=B"},
		{"file without path", "file:"},
		{"file path with NUL", "file:a\x00b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRef(tt.in)
			if !errors.Is(err, ErrBadRef) {
				t.Fatalf("ParseRef(%q) error = %v, want ErrBadRef", tt.in, err)
			}
			if !strings.Contains(err.Error(), strings.ReplaceAll(tt.in, "\x00", `\x00`)) {
				t.Errorf("error %q does not name the reference", err)
			}
		})
	}
}

func TestSecretID(t *testing.T) {
	for in, want := range map[string]string{
		"sm:github@2":              "github",
		"projects/p/secrets/s":     "s",
		"env:GITHUB_SECRET":        "",
		"file:/var/secrets/github": "",
	} {
		ref, err := ParseRef(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := ref.SecretID(); got != want {
			t.Errorf("ParseRef(%q).SecretID() = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"sm:a", "sm:a@1", "sm:a@latest", "projects/p/secrets/s", "projects/p/secrets/s/versions/2",
		"env:A_B", "file:/x", "", "sm:", "projects/", "env:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseRef(s)
		if err != nil {
			if !errors.Is(err, ErrBadRef) {
				t.Fatalf("ParseRef(%q) error %v does not wrap ErrBadRef", s, err)
			}
			return
		}
		again, err := ParseRef(ref.String())
		if err != nil {
			t.Fatalf("ParseRef(%q).String() = %q does not re-parse: %v", s, ref.String(), err)
		}
		if again != ref {
			t.Fatalf("ParseRef(%q) = %+v, but its String() %q parses to %+v", s, ref, ref.String(), again)
		}
	})
}
