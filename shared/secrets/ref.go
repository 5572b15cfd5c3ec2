package secrets

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Kind says where a reference's value is stored.
type Kind uint8

// The kinds of reference; the zero Kind is no reference at all.
const (
	// SecretManager is a Google Secret Manager secret version
	// (sm:NAME[@VERSION] or projects/P/secrets/S[/versions/V]).
	SecretManager Kind = iota + 1
	// Env is an environment variable (env:NAME).
	Env
	// File is a file's contents, such as a secret mounted as a volume
	// (file:PATH).
	File
)

// Ref is a parsed secret reference. The zero Ref is invalid; make one with
// ParseRef. Refs are comparable: two references to the same secret version
// written the same way are equal.
type Ref struct {
	// Kind says which of the other fields are set.
	Kind Kind
	// Project is the Google Cloud project of a SecretManager ref written as
	// a full resource name; empty for sm:NAME, which uses the default
	// project.
	Project string
	// Secret is the Secret Manager secret id.
	Secret string
	// Version is a Secret Manager version number or "latest".
	Version string
	// Name is the variable name of an Env ref or the path of a File ref.
	Name string
}

const latest = "latest"

// ParseRef parses a secret reference written in the grammar of the package
// comment. Errors wrap ErrBadRef and quote the reference (a reference is
// configuration, not a secret).
func ParseRef(s string) (Ref, error) {
	r, err := parseRef(s)
	if err != nil {
		return Ref{}, fmt.Errorf("%w %q: %s", ErrBadRef, s, err)
	}
	return r, nil
}

// parseRef does ParseRef's work; its errors say what is wrong without
// repeating the reference.
func parseRef(s string) (Ref, error) {
	switch {
	case strings.HasPrefix(s, "sm:"):
		secret, version, hasVersion := strings.Cut(s[len("sm:"):], "@")
		if !hasVersion {
			version = latest
		}
		return secretRef(false, "", secret, version)
	case strings.HasPrefix(s, "projects/"):
		parts := strings.Split(s, "/")
		switch {
		case len(parts) == 4 && parts[2] == "secrets":
			return secretRef(true, parts[1], parts[3], latest)
		case len(parts) == 6 && parts[2] == "secrets" && parts[4] == "versions":
			return secretRef(true, parts[1], parts[3], parts[5])
		}
		return Ref{}, fmt.Errorf("want projects/PROJECT/secrets/SECRET[/versions/VERSION]")
	case strings.HasPrefix(s, "env:"):
		name := s[len("env:"):]
		if !validEnvName(name) {
			return Ref{}, fmt.Errorf("environment variable name must be letters, digits and _ and not start with a digit")
		}
		return Ref{Kind: Env, Name: name}, nil
	case strings.HasPrefix(s, "file:"):
		path := s[len("file:"):]
		if path == "" || strings.ContainsRune(path, 0) {
			return Ref{}, fmt.Errorf("file path must be non-empty and hold no NUL byte")
		}
		return Ref{Kind: File, Name: path}, nil
	case s == "":
		return Ref{}, fmt.Errorf("empty reference")
	}
	return Ref{}, fmt.Errorf("want sm:NAME[@VERSION], projects/P/secrets/S[/versions/V], env:NAME or file:PATH")
}

// secretRef validates the parts of a Secret Manager reference; full says
// it was written as a resource name, which must name its project.
func secretRef(full bool, project, secret, version string) (Ref, error) {
	if full && !validProject(project) {
		return Ref{}, fmt.Errorf("project must be 1-128 letters, digits, '-', '.' or ':'")
	}
	if !validSecretID(secret) {
		return Ref{}, fmt.Errorf("secret id must be 1-255 letters, digits, '-' or '_'")
	}
	if !validVersion(version) {
		return Ref{}, fmt.Errorf("version must be a number from 1 or %q", latest)
	}
	return Ref{Kind: SecretManager, Project: project, Secret: secret, Version: version}, nil
}

// SecretID returns the Secret Manager secret id of a SecretManager ref and
// "" for env and file refs.
func (r Ref) SecretID() string {
	if r.Kind != SecretManager {
		return ""
	}
	return r.Secret
}

// LocalFile returns the file that a Resolver with Options.LocalDir dir
// reads a SecretManager ref from: dir/<secret id>. It is "" for env and
// file refs, and when dir is "" (Secret Manager itself is read).
func (r Ref) LocalFile(dir string) string {
	if r.Kind != SecretManager || dir == "" {
		return ""
	}
	// The secret id is validated: it cannot leave dir.
	return filepath.Join(dir, r.Secret)
}

// String returns the reference in the form it was parsed from, normalized:
// sm:NAME for the latest version in the default project, sm:NAME@VERSION,
// projects/P/secrets/S/versions/V, env:NAME or file:PATH. ParseRef of the
// result returns r again.
func (r Ref) String() string {
	switch r.Kind {
	case SecretManager:
		if r.Project != "" {
			return r.resource(r.Project)
		}
		if r.Version == latest {
			return "sm:" + r.Secret
		}
		return "sm:" + r.Secret + "@" + r.Version
	case Env:
		return "env:" + r.Name
	case File:
		return "file:" + r.Name
	}
	return ""
}

// resource returns the Secret Manager version resource name of r in
// project, the name AccessSecretVersion takes.
func (r Ref) resource(project string) string {
	return "projects/" + project + "/secrets/" + r.Secret + "/versions/" + r.Version
}

// validSecretID reports whether id is a Secret Manager secret id:
// 1-255 ASCII letters, digits, hyphens and underscores.
func validSecretID(id string) bool {
	if len(id) == 0 || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// validProject reports whether p can be a project id or number. Project
// ids are stricter than this (6-30 lowercase characters), but
// domain-scoped ids such as example.com:proj and numbers also name
// projects, so only what would break the resource name is refused.
func validProject(p string) bool {
	if len(p) == 0 || len(p) > 128 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !isAlnum(c) && c != '-' && c != '.' && c != ':' {
			return false
		}
	}
	return true
}

// validVersion reports whether v is "latest" or a version number: digits
// without a leading zero, at most 18 of them so it fits an int64.
func validVersion(v string) bool {
	if v == latest {
		return true
	}
	if len(v) == 0 || len(v) > 18 || v[0] == '0' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// validEnvName reports whether n is a portable environment variable name.
func validEnvName(n string) bool {
	if n == "" || (n[0] >= '0' && n[0] <= '9') {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; !isAlnum(c) && c != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
