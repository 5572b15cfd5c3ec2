package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"

	"sigs.k8s.io/yaml"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// EnvPath names the environment variable that points at a configuration
// file to use instead of the embedded webhooks.yaml.
const EnvPath = "WEBHOOKS_CONFIG"

//go:embed webhooks.yaml
var embedded []byte

// Embedded returns the configuration file compiled into the binary.
func Embedded() []byte { return embedded }

// Load reads the configuration named by WEBHOOKS_CONFIG, or the embedded
// webhooks.yaml when it is unset, and validates it. lookup is os.LookupEnv
// outside tests.
func Load(lookup func(string) (string, bool)) (*File, error) {
	data := embedded
	if path, ok := lookup(EnvPath); ok && path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("config.Load: %s: %w", EnvPath, err)
		}
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config.Load: %w", err)
	}
	return f, nil
}

// Parse decodes a configuration file, rejecting unknown fields (a typo is
// an error, not a silently ignored setting), and validates it.
func Parse(data []byte) (*File, error) {
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
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

// sourceName is what a source name may look like: one URL path segment.
var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

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
			case !sourceName.MatchString(s.Name):
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

// checkKeyedHandshakeSecrets keeps the secret of a source that answers a
// handshake replying with an HMAC under its key (crc, zoom) away from
// sources of every other scheme, in any function: the handshake signs with
// that key for whoever asks, which must never make a signature that
// another scheme accepts.
func (f *File) checkKeyedHandshakeSecrets() []error {
	type owner struct{ field, scheme, kind string }
	owners := map[string]owner{}
	each := func(visit func(field string, s Source)) {
		for _, name := range []string{"store", "relay", "trigger"} {
			if fn := f.Function(name); fn != nil {
				for i, s := range fn.Sources {
					visit(fmt.Sprintf("%s.sources[%d]", name, i), s)
				}
			}
		}
	}
	each(func(field string, s Source) {
		for _, kind := range s.Verify.Handshakes {
			if scheme, keyed := verify.HandshakeScheme(kind); keyed && s.Verify.Secret != "" {
				owners[s.Verify.Secret] = owner{field, scheme, kind}
			}
		}
	})
	var errs []error
	each(func(field string, s Source) {
		for _, use := range []struct{ key, ref string }{{"secret", s.Verify.Secret}, {"handshake_secret", s.Verify.HandshakeSecret}} {
			if o, ok := owners[use.ref]; ok && use.ref != "" && s.Verify.Scheme != o.scheme {
				errs = append(errs, fmt.Errorf("%s.verify.%s: %s is the key that %s's %q handshake signs with for anyone who asks; "+
					"only %q sources may use it", field, use.key, use.ref, o.field, o.kind, o.scheme))
			}
		}
	})
	return errs
}
