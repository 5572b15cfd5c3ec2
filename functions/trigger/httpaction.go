package trigger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/render"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// headerIdempotencyKey carries the action's outgoingID on every HTTP
// action request, the same on every retry, so that receivers can dedupe.
// The Standard Webhooks webhook-id header carries the same value.
const headerIdempotencyKey = "Idempotency-Key"

// httpAction calls a URL.
type httpAction struct {
	url     *render.Template
	method  string
	headers []namedTemplate
	body    *render.Template // nil: the event envelope as JSON
	secret  string
	// allowPrivate sends to non-public addresses too (a receiver on the
	// same network, a test server); without it they are refused at dial
	// time.
	allowPrivate bool
}

// compileHTTP validates an http action of the named rule.
func compileHTTP(path, rule string, s *actionSpec) (performer, error) {
	var errs []error
	a := &httpAction{method: http.MethodPost, secret: s.Secret, allowPrivate: s.AllowPrivateNetwork}
	if s.Method != "" {
		a.method = strings.ToUpper(s.Method)
		if strings.ContainsAny(a.method, " \t\r\n()<>@,;:\\\"/[]?={}") {
			errs = append(errs, fmt.Errorf("%s.method: %q is not an HTTP method", path, s.Method))
		}
	}
	switch {
	case s.URL == "":
		errs = append(errs, fmt.Errorf("%s.url: missing", path))
	case !strings.Contains(s.URL, "{{"):
		if err := checkURL(s.URL); err != nil {
			errs = append(errs, fmt.Errorf("%s.url: %w", path, err))
		}
	}
	if s.URL != "" {
		// The host comes from the literal text only, and values are
		// escaped: an event cannot choose where the request (and its
		// Authorization header) goes.
		t, err := render.ParseURL("url", s.URL)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.url: rule %q: %w", path, rule, err))
		}
		a.url = t
	}
	hs, herrs := parseTemplates(path+".headers", s.Headers, nil)
	a.headers, errs = hs, append(errs, herrs...)
	if s.Body != "" {
		body, err := parseBody(path, s)
		if err != nil {
			errs = append(errs, err)
		}
		a.body = body
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// parseBody parses the body template the way its Content-Type is read: a
// JSON body (the default) escapes each value as JSON, so that a value
// cannot add members; a form-encoded body query-escapes each value, so
// that a value cannot add fields; any other type is text, filled as
// written.
func parseBody(path string, s *actionSpec) (*render.Template, error) {
	contentType := ""
	for k, v := range s.Headers {
		if strings.EqualFold(k, "Content-Type") {
			if strings.Contains(v, "{{") {
				return nil, fmt.Errorf("%s.headers.%s: must be literal when a body is set: it decides how the body's values are escaped", path, k)
			}
			contentType = v
		}
	}
	parse := render.ParseJSON
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, fmt.Errorf("%s.headers.Content-Type: %q is not a media type: %w", path, contentType, err)
		}
		switch {
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		case mt == "application/x-www-form-urlencoded":
			parse = render.ParseForm
		default:
			parse = render.Parse
		}
	}
	t, err := parse("body", s.Body)
	if err != nil {
		return nil, fmt.Errorf("%s.body: %w", path, err)
	}
	return t, nil
}

// checkURL accepts absolute http and https URLs without "." or ".."
// path segments, which a receiver would resolve to another path.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http(s) URL", raw)
	}
	for seg := range strings.SplitSeq(u.EscapedPath(), "/") {
		if seg, err := url.PathUnescape(seg); err == nil && (seg == "." || seg == "..") {
			return fmt.Errorf("%q: a %q path segment", raw, seg)
		}
	}
	return nil
}

// prepare renders the request of one event.
func (a *httpAction) prepare(ev *event.Event, vars event.Vars) (call, error) {
	u, err := a.url.Execute(vars)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if err := checkURL(u); err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	headers, err := renderMap(a.headers, vars)
	if err != nil {
		return nil, fmt.Errorf("headers.%w", err)
	}
	var body []byte
	if a.body != nil {
		s, err := a.body.Execute(vars)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		body = []byte(s)
	} else if body, err = json.Marshal(ev); err != nil {
		return nil, fmt.Errorf("body: encode event: %w", err)
	}
	return func(ctx context.Context, d *deps, inv invocation) (string, error) {
		return a.do(ctx, d, inv, u, headers, body)
	}, nil
}

// maxDrain is how much of an answer is read so that its connection can be
// reused; a longer answer costs a new connection, never memory.
const maxDrain = 64 << 10

// do sends one attempt and returns the receiver's answer: the method, the
// host (never the URL, whose query may carry a token) and the status.
func (a *httpAction) do(ctx context.Context, d *deps, inv invocation, u string, headers map[string]string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, a.method, u, bytes.NewReader(body))
	if err != nil {
		return "", permanent(fmt.Errorf("http request: %w", err))
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("Content-Type") == "" && len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(headerIdempotencyKey, inv.idempotencyKey)
	if a.secret != "" {
		if err := a.sign(ctx, d, req, inv.idempotencyKey, body); err != nil {
			return "", err
		}
	}
	client := d.http
	if a.allowPrivate {
		client = d.httpPrivate
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL may carry a token in its query: report the host only.
		err = fmt.Errorf("http %s %s: %w", a.method, req.URL.Host, unwrapURLError(err))
		if errors.Is(err, errNonPublicAddress) {
			return "", permanent(err)
		}
		return "", err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	answer := fmt.Sprintf("http %s %s: status %d", a.method, req.URL.Host, resp.StatusCode)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return answer, nil
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return "", errors.New(answer)
	default:
		return "", permanent(errors.New(answer))
	}
}

// unwrapURLError drops *url.Error's wrapping, which repeats the full URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// signScheme is how HTTP actions are signed: Standard Webhooks, which
// receivers verify with the reference libraries or package verify.
var signScheme = verify.Config{Scheme: "standardwebhooks"}

// sign reads the action's secret and signs req. The secret's first line is
// the key: "whsec_<base64>" as Standard Webhooks writes keys, or any other
// bytes used as they are (the receiver's key is then "whsec_" followed by
// their base64).
func (a *httpAction) sign(ctx context.Context, d *deps, req *http.Request, id string, body []byte) error {
	if d.secrets == nil {
		return fmt.Errorf("secret %s: no secret source configured", a.secret)
	}
	val, err := d.secrets.Secret(ctx, a.secret)
	if err != nil {
		return fmt.Errorf("secret %s: %w", a.secret, err)
	}
	key, _, _ := bytes.Cut(val, []byte("\n"))
	key = bytes.TrimSpace(key)
	if len(key) == 0 {
		return permanent(fmt.Errorf("secret %s: empty", a.secret))
	}
	if !bytes.HasPrefix(key, []byte("whsec_")) {
		key = []byte("whsec_" + base64.StdEncoding.EncodeToString(key))
	}
	req.Header.Set(verify.HeaderWebhookID, id)
	if err := verify.Sign(signScheme, key, d.now(), req, body); err != nil {
		return permanent(fmt.Errorf("sign with secret %s: %w", a.secret, err))
	}
	return nil
}

// errNonPublicAddress means an HTTP action's host resolved to an address
// that is not on the public internet (loopback, private, link-local such as
// the metadata server 169.254.169.254, unspecified, ...) and the action did
// not set allow_private_network. It is permanent: the address is the
// configuration's (or its DNS's) choice, not a passing failure.
var errNonPublicAddress = errors.New("refused to connect to a non-public address (set allow_private_network on the action to allow it)")

// nonPublic are ranges not reachable on the public internet beyond those
// netip.Addr's predicates name.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: embeds any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds any IPv4 address
	netip.MustParsePrefix("fec0::/10"),      // site-local, deprecated
}

// isPublic reports whether a is an address on the public internet.
func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// dialPublicOnly is a net.Dialer Control hook: it runs for every address
// the dialer connects to, after name resolution, so a host whose DNS
// answers a private address (at start-up or only later, DNS rebinding) is
// refused too.
func dialPublicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !isPublic(ap.Addr()) {
		return fmt.Errorf("%w: %s", errNonPublicAddress, address)
	}
	return nil
}

// newHTTPClient returns a client for HTTP actions: connections are kept and
// reused across events. Each attempt's context bounds it, so the client
// itself has no timeout. Redirects are not followed: a client would turn a
// signed POST into an unsigned GET; a 3xx answer is a permanent failure
// that names the status.
//
// Unless allowPrivate, the client connects to public addresses only
// (dialPublicOnly), and ignores HTTP_PROXY and the like: through a proxy
// the check would see the proxy's address, not the receiver's.
func newHTTPClient(allowPrivate bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	t.IdleConnTimeout = 90 * time.Second
	if !allowPrivate {
		t.Proxy = nil
		t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: dialPublicOnly}).DialContext
	}
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
