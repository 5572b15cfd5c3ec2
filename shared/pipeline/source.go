package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/verify"
	"github.com/cloudhooks/webhooks/shared/verify/handshake"
	"github.com/cloudhooks/webhooks/shared/verify/ipallow"
)

// source is one configured source, built once at start-up: its verifier,
// allowlist, handshakes, how its body is read, and its pattern.
type source struct {
	name     string
	verifier *verify.Verifier
	allow    *ipallow.List
	early    []string // handshakes answered before verification
	late     []string // handshakes answered after verification
	// secretHeader is the source's own token or signature header, and
	// secretField the payload member that carries its token (the token
	// scheme's verify.field): credentials never kept in an event.
	secretHeader string
	secretField  []string
	// formField is the form field that carries the JSON payload when the
	// provider posts a form (GitHub's form content type, Slack's
	// interactive requests): the source's payload_field, or its preset's.
	formField string
	// plainJSON: the provider posts JSON as text/plain (Amazon SNS).
	plainJSON bool
	// lateGET: a handshake answered after verification comes as a GET
	// (Okta's verification request, which carries the hook's token).
	lateGET bool
	pattern pattern.Pattern
	// keyFile and handshakeKeyFile are the files that verify.secret and
	// the handshakes' key are read from in local mode
	// (Options.SecretsDir), for the log line of a refusal by that key.
	keyFile, handshakeKeyFile string
}

func newSource(ctx context.Context, sc config.Source, secrets verify.SecretSource, newPattern Factory, opts Options) (*source, error) {
	v, err := verify.New(sc.Name, sc.Verify, secrets, verify.WithLogger(opts.Logger), verify.WithClock(opts.Now))
	if err != nil {
		return nil, err
	}
	allow, err := allowList(sc.Verify)
	if err != nil {
		return nil, err
	}
	s := &source{name: sc.Name, verifier: v, allow: allow}
	if sc.Verify.Header != "" {
		s.secretHeader = http.CanonicalHeaderKey(sc.Verify.Header)
	}
	if sc.Verify.Field != "" {
		s.secretField = strings.Split(sc.Verify.Field, ".")
	}
	s.formField = sc.PayloadField
	if p, ok := verify.Lookup(sc.Verify.Scheme); ok {
		if s.formField == "" {
			s.formField = p.FormField
		}
		s.plainJSON = p.Family == verify.FamilySNS
	}
	s.keyFile = localFile(opts.SecretsDir, sc.Verify.Secret)
	s.handshakeKeyFile = s.keyFile
	if sc.Verify.HandshakeSecret != "" {
		s.handshakeKeyFile = localFile(opts.SecretsDir, sc.Verify.HandshakeSecret)
	}
	for _, kind := range sc.Verify.Handshakes {
		if handshake.BeforeVerification(kind) {
			s.early = append(s.early, kind)
		} else {
			s.late = append(s.late, kind)
			s.lateGET = s.lateGET || handshake.VerifiedGET(kind)
		}
	}
	if s.pattern, err = newPattern(ctx, sc); err != nil {
		return nil, err
	}
	return s, nil
}

// allowList builds the source's client allowlist; nil allows every client.
func allowList(vc verify.Config) (*ipallow.List, error) {
	var opts []ipallow.Option
	switch {
	case vc.TrustedProxies == 0:
	case len(vc.AllowCIDRs) == 0:
		return nil, errors.New("verify.trusted_proxies: only meaningful with verify.allow_cidrs")
	case vc.TrustedProxies < 0:
		return nil, fmt.Errorf("verify.trusted_proxies: %d, want 1 or more", vc.TrustedProxies)
	default:
		opts = append(opts, ipallow.TrustedProxies(vc.TrustedProxies))
	}
	l, err := ipallow.Parse(vc.AllowCIDRs, opts...)
	if err != nil {
		return nil, fmt.Errorf("verify.allow_cidrs: %w", err)
	}
	return l, nil
}

// localFile is the file in dir that a Secret Manager reference is read
// from in local mode; "" for any other reference, or when dir is "".
func localFile(dir, ref string) string {
	r, err := secrets.ParseRef(ref)
	if err != nil {
		return ""
	}
	return r.LocalFile(dir)
}
