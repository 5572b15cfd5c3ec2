package trigger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/render"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// HeaderIdempotencyKey carries "<event id>/<action name>" on every HTTP
// action request, the same on every retry, so that receivers can dedupe.
// The Standard Webhooks webhook-id header carries the same value.
const HeaderIdempotencyKey = "Idempotency-Key"

// httpAction calls a URL.
type httpAction struct {
	url     *render.Template
	method  string
	headers []namedTemplate
	body    *render.Template // nil: the event envelope as JSON
	secret  string
}

// compileHTTP validates an http action.
func compileHTTP(path string, s *actionSpec) (performer, error) {
	var errs []error
	a := &httpAction{method: http.MethodPost, secret: s.Secret}
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
		t, err := render.Parse("url", s.URL)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.url: %w", path, err))
		}
		a.url = t
	}
	hs, herrs := parseTemplates(path+".headers", s.Headers)
	a.headers, errs = hs, append(errs, herrs...)
	body, err := parseOptional("body", s.Body)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s.body: %w", path, err))
	}
	a.body = body
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// checkURL accepts absolute http and https URLs.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http(s) URL", raw)
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
	return func(ctx context.Context, d *deps, inv invocation) error {
		return a.do(ctx, d, inv, u, headers, body)
	}, nil
}

// maxDrain is how much of an answer is read so that its connection can be
// reused; a longer answer costs a new connection, never memory.
const maxDrain = 64 << 10

// do sends one attempt.
func (a *httpAction) do(ctx context.Context, d *deps, inv invocation, u string, headers map[string]string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, a.method, u, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("http request: %w", err))
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("Content-Type") == "" && len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(HeaderIdempotencyKey, inv.idempotencyKey)
	if a.secret != "" {
		if err := a.sign(ctx, d, req, inv.idempotencyKey, body); err != nil {
			return err
		}
	}
	resp, err := d.http.Do(req)
	if err != nil {
		// The URL may carry a token in its query: report the host only.
		return fmt.Errorf("http %s %s: %w", a.method, req.URL.Host, unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return fmt.Errorf("http %s %s: status %d", a.method, req.URL.Host, code)
	default:
		return permanent(fmt.Errorf("http %s %s: status %d", a.method, req.URL.Host, code))
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

// newHTTPClient is the process's one client for HTTP actions: connections
// are kept and reused across events. Each attempt's context bounds it, so
// the client itself has no timeout. Redirects are not followed: a client
// would turn a signed POST into an unsigned GET; a 3xx answer is a
// permanent failure that names the status.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
