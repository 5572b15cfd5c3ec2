package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// EnvPath names the environment variable that points at a configuration
// file to use instead of the embedded webhooks.yaml.
const EnvPath = "WEBHOOKS_CONFIG"

//go:embed webhooks.yaml
var embedded []byte

// Embedded returns the configuration file compiled into the binary.
func Embedded() []byte { return embedded }

// OnPort returns a sources file's text with its loopback URLs on port
// instead of the local runner's default 8080: the embedded sample's
// Trigger action calls the runner itself (http://localhost:8080/...).
func OnPort(file []byte, port string) []byte {
	return bytes.ReplaceAll(file, []byte("http://localhost:8080/"), []byte("http://localhost:"+port+"/"))
}

// EmbeddedName is how messages name the embedded file: its path in the
// repository, from where `make run` runs.
const EmbeddedName = "shared/config/webhooks.yaml"

// Load reads the configuration named by WEBHOOKS_CONFIG, or the embedded
// webhooks.yaml when it is unset, and validates it. lookup is os.LookupEnv
// outside tests. Its errors name the file, line and column of each bad
// field.
func Load(lookup func(string) (string, bool)) (*File, error) {
	if path, ok := lookup(EnvPath); ok && path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvPath, err)
		}
		return ParseFile(path, data)
	}
	return ParseFile(EmbeddedName, embedded)
}

// Parse decodes and validates a configuration file named webhooks.yaml
// in messages; see ParseFile.
func Parse(data []byte) (*File, error) { return ParseFile("webhooks.yaml", data) }

// ParseFile decodes a configuration file, rejecting unknown fields (a
// typo is an error, not a silently ignored setting) and values of the
// wrong kind, and validates it. Every problem is reported, each as
// "NAME:LINE:COL: PATH: problem" ("webhooks.yaml:14:9:
// store.sources[1].verify.secert: unknown field; did you mean "secret"?").
func ParseFile(name string, data []byte) (*File, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, syntaxError(name, err)
	}
	f := &File{name: name, pos: positions{}}
	f.pos.index(&root, "")
	if errs := checkShape(&root, "", reflect.TypeFor[File]()); len(errs) > 0 {
		return nil, f.locate("", errors.Join(errs...))
	}
	// The shape is checked: what is left for the decoder to refuse is
	// what YAML itself forbids (a key given twice).
	if err := decodeTree(&root, f); err != nil {
		return nil, syntaxError(name, err)
	}
	for _, section := range []string{"store", "relay", "trigger"} {
		if fn := f.Function(section); fn != nil {
			fn.section, fn.file = section, f
		}
	}
	if err := f.Validate(); err != nil {
		return nil, f.locate("", err)
	}
	return f, nil
}

// decodeTree decodes the parsed file into f through JSON, so that the
// rules stay the raw JSON their patterns decode strictly. It decodes the
// tree already parsed for the positions, not the text a second time: YAML's
// own decoder resolves aliases and merge keys within its limits and
// refuses a mapping key given twice.
func decodeTree(root *yaml.Node, f *File) error {
	if root.Kind == 0 || root.Kind == yaml.DocumentNode && len(root.Content) == 0 {
		return nil // an empty file: no sections
	}
	timestampsAsText(root)
	var tree any
	if err := root.Decode(&tree); err != nil {
		return err
	}
	var text bytes.Buffer
	enc := json.NewEncoder(&text)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(stringKeys(tree)); err != nil {
		return fmt.Errorf("a value JSON cannot hold: %w", err)
	}
	dec := json.NewDecoder(&text)
	dec.DisallowUnknownFields()
	return dec.Decode(f)
}

// timestampsAsText keeps a date such as 2001-12-14 the text it is written
// as, as JSON has no timestamps: YAML's decoder would make it a time and
// JSON would print it as 2001-12-14T00:00:00Z. Aliases are not followed:
// the nodes they name are in the tree.
func timestampsAsText(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!timestamp" {
		n.Tag = "!!str"
	}
	for _, c := range n.Content {
		timestampsAsText(c)
	}
}

// stringKeys gives every mapping of v string keys, as JSON's objects
// have: YAML's decoder keeps a mapping with a key such as 1 or true as
// map[any]any.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = stringKeys(e)
		}
	}
	return v
}

// yamlLine is the "line N: " of a YAML parser's message.
var yamlLine = regexp.MustCompile(`line (\d+): `)

// syntaxError reports a file that is not YAML, or not valid YAML, as
// "NAME:LINE: problem", without the parser's prefixes.
func syntaxError(name string, err error) error {
	msg := err.Error()
	for _, prefix := range []string{"error converting YAML to JSON: ", "yaml: unmarshal errors:\n  ", "yaml: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	if m := yamlLine.FindStringSubmatchIndex(msg); m != nil && m[0] == 0 {
		return fmt.Errorf("%s:%s: %s", name, msg[m[2]:m[3]], msg[m[1]:])
	}
	return fmt.Errorf("%s: %s", name, msg)
}

// FunctionSource is one source of the file with the section it is in.
type FunctionSource struct {
	Function string // "store", "relay", "trigger"
	Index    int    // its position in the section's sources
	Source
}

// Sources returns every source of the file, section by section (store,
// relay, trigger), for the checks and tools that look at all of them.
func (f *File) Sources() []FunctionSource {
	var out []FunctionSource
	for _, name := range []string{"store", "relay", "trigger"} {
		if fn := f.Function(name); fn != nil {
			for i, s := range fn.Sources {
				out = append(out, FunctionSource{name, i, s})
			}
		}
	}
	return out
}

// Function returns the section of the named function ("store", "relay",
// "trigger"), nil when the file has none.
func (f *File) Function(name string) *Function {
	switch name {
	case "store":
		return f.Store
	case "relay":
		return f.Relay
	case "trigger":
		return f.Trigger
	}
	return nil
}

// sourceName is what a source name may look like: one URL path segment
// of at most maxSourceName characters, checked apart from the expression
// (a counted repetition would compile to one state per character, at
// every start).
var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

const maxSourceName = 63

// Validate reports every structural problem in the file, each naming its
// field. Scheme options and rules are validated by the packages that own
// them (verify, the patterns) when the function starts.
func (f *File) Validate() error {
	var errs []error
	for _, name := range []string{"store", "relay", "trigger"} {
		fn := f.Function(name)
		if fn == nil {
			continue
		}
		seen := map[string]bool{}
		for i, s := range fn.Sources {
			field := fmt.Sprintf("%s.sources[%d]", name, i)
			switch {
			case len(s.Name) > maxSourceName || !sourceName.MatchString(s.Name):
				errs = append(errs, fmt.Errorf("%s.name: %q is not a lower-case URL path segment", field, s.Name))
			case seen[s.Name]:
				errs = append(errs, fmt.Errorf("%s.name: duplicate source %q", field, s.Name))
			}
			seen[s.Name] = true
			if s.Verify.Scheme == "" {
				errs = append(errs, fmt.Errorf("%s.verify.scheme: missing (use \"none\" for a provider that signs nothing)", field))
			}
		}
	}
	errs = append(errs, f.checkKeyedHandshakeSecrets()...)
	return errors.Join(errs...)
}

// secretIdentity names the key material a reference reads, however it is
// written: sm:S, sm:S@3, projects/P/secrets/S and .../versions/latest are
// all secret S (every version of a secret is the same key's lineage, and
// the default project is not known here, so a Secret Manager secret is
// named by its id alone: two projects' secrets of one name count as one,
// which errs on the safe side). An unparsable reference is itself.
func secretIdentity(ref string) string {
	r, err := secrets.ParseRef(ref)
	if err != nil {
		return ref
	}
	switch r.Kind {
	case secrets.SecretManager:
		return "sm:" + r.Secret
	case secrets.File:
		return "file:" + filepath.Clean(r.Name)
	}
	return r.String()
}

// checkKeyedHandshakeSecrets keeps the secret of a source that answers a
// handshake replying with an HMAC under its key (crc, zoom) away from
// sources of every other scheme, in any function: the handshake signs with
// that key for whoever asks, which must never make a signature that
// another scheme accepts.
func (f *File) checkKeyedHandshakeSecrets() []error {
	type owner struct{ field, scheme, kind string }
	owners := map[string]owner{}
	each := func(visit func(field string, s Source)) {
		for _, fs := range f.Sources() {
			visit(fmt.Sprintf("%s.sources[%d]", fs.Function, fs.Index), fs.Source)
		}
	}
	each(func(field string, s Source) {
		for _, kind := range s.Verify.Handshakes {
			if scheme, keyed := verify.HandshakeScheme(kind); keyed && s.Verify.Secret != "" {
				owners[secretIdentity(s.Verify.Secret)] = owner{field, scheme, kind}
			}
		}
	})
	var errs []error
	each(func(field string, s Source) {
		for _, use := range []struct{ key, ref string }{{"secret", s.Verify.Secret}, {"handshake_secret", s.Verify.HandshakeSecret}} {
			if o, ok := owners[secretIdentity(use.ref)]; ok && use.ref != "" && s.Verify.Scheme != o.scheme {
				errs = append(errs, fmt.Errorf("%s.verify.%s: %s is the key that %s's %q handshake signs with for anyone who asks; "+
					"only %q sources may use it", field, use.key, use.ref, o.field, o.kind, o.scheme))
			}
		}
	})
	return errs
}
