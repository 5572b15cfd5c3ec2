package inspector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// Errors of a replay the page asked for.
var (
	// ErrNotFound: no delivery has that number (any more).
	ErrNotFound = errors.New("no such delivery")
	// ErrCannotReplay: the delivery cannot be sent again (its body was
	// cut, or its source cannot be signed for).
	ErrCannotReplay = errors.New("cannot replay")
)

// Replay re-sends delivery seq through the runner as it was received (same
// headers, signature and body), or, with resign, signed afresh by
// verify.Sign with the source's development key and the current time, as
// `send` signs. The new delivery is recorded and returned.
//
// A replay as received repeats the signature's timestamp, so a scheme
// with a tolerance refuses it once the timestamp is old: that is the
// replay protection working.
func (i *Inspector) Replay(ctx context.Context, seq int64, resign bool) (*Delivery, error) {
	d, secret, ok := i.find(seq)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	if d.Truncated {
		return nil, fmt.Errorf("%w: the body was longer than %d bytes and was cut", ErrCannotReplay, MaxBody)
	}
	body := d.body()
	if secret.body != nil {
		body = secret.body
	}
	src, _ := sourceOf(i.opts.Config, d.Function, d.Source)
	var lost []string
	target := d.Target
	if secret.target != "" {
		target = secret.target
	} else if params, _ := verify.QueryCredentials(src.Verify); len(params) > 0 {
		if _, names := maskQuery(target, params); names != nil {
			lost = append(lost, "query parameter "+strings.Join(names, ", "))
		}
	}
	r, err := http.NewRequestWithContext(ctx, d.Method, "http://"+d.Host+target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotReplay, err)
	}
	// A request as a server receives it: the URL is the request URI.
	if r.URL, err = url.ParseRequestURI(target); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotReplay, err)
	}
	r.Host, r.RemoteAddr, r.RequestURI = d.Host, d.Remote, target
	for _, h := range d.Headers {
		switch {
		case !h.Secret:
			r.Header.Add(h.Name, h.Value)
		case secret.header[h.Name] != nil:
			r.Header[h.Name] = secret.header[h.Name]
		default:
			lost = append(lost, h.Name)
		}
	}
	if src.Verify.Field != "" && secret.body == nil {
		lost = append(lost, "payload field "+src.Verify.Field)
	}
	kind, note := KindReplay, ""
	if len(lost) > 0 {
		note = "not kept across a restart, being the secret itself: " + strings.Join(lost, ", ") + "; re-sign instead"
	}
	if resign {
		kind, note = KindResigned, "signed by the inspector with the development key, not by the provider"
		if d.Verification == VerifyFailed {
			note += "; the delivery as received failed verification, so this body was never signed by its sender"
		}
		if err := i.resign(ctx, d, r, body); err != nil {
			return nil, err
		}
		// The mark reaches what the function keeps: Store's row has it
		// among the event's headers.
		r.Header.Set(ResignedHeader, fmt.Sprintf("of delivery #%d, by the local inspector", d.Seq))
	}
	return i.serve(discard{h: http.Header{}}, r, kind, d.Seq, note, func(nd *Delivery, ns secretParts) {
		nd.Changes = changes(d, nd, secret, ns)
	}), nil
}

// ResignedHeader marks a re-signed request: its signature is the
// inspector's, made with the development key, so its body may be one
// that its sender never signed (a delivery that failed verification,
// signed afresh). It is an ordinary header, kept in the event.
const ResignedHeader = "X-Webhooks-Resigned"

// resign replaces the credentials of r with a fresh signature.
func (i *Inspector) resign(ctx context.Context, d *Delivery, r *http.Request, body []byte) error {
	src, ok := sourceOf(i.opts.Config, d.Function, d.Source)
	if !ok {
		return fmt.Errorf("%w: no configured source %s/%s to sign for", ErrCannotReplay, d.Function, d.Source)
	}
	if src.Verify.Scheme == verify.SchemeNone || src.Verify.Secret == "" || i.opts.Secrets == nil {
		return fmt.Errorf("%w: source %s/%s (scheme %s) has no key to sign with; replay it as received", ErrCannotReplay, d.Function, d.Source, src.Verify.Scheme)
	}
	value, err := i.opts.Secrets.Secret(ctx, src.Verify.Secret)
	if err != nil {
		return fmt.Errorf("%w: the key of %s/%s: %w", ErrCannotReplay, d.Function, d.Source, err)
	}
	first := string(verify.SigningEntry(value))
	if ref, ok := verify.SigningRef(src.Verify, []byte(first)); ok {
		// A public key (or SNS's topics, PayPal's webhook id): the local
		// loop keeps the private key beside it.
		if value, err = i.opts.Secrets.Secret(ctx, ref); err != nil {
			return fmt.Errorf("%w: the private key of %s/%s: %w", ErrCannotReplay, d.Function, d.Source, err)
		}
		first = string(verify.SigningEntry(value))
	}
	for _, h := range d.Headers {
		if h.Masked {
			r.Header.Del(h.Name)
		}
	}
	if err := verify.Sign(src.Verify, []byte(strings.TrimSpace(first)), i.opts.Now(), r, body); err != nil {
		return fmt.Errorf("%w: %w", ErrCannotReplay, err)
	}
	r.RequestURI = r.URL.RequestURI() // twilio binds the body in the query
	return nil
}

// discard is the response writer of a replay: the recorder keeps what the
// page shows.
type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}
