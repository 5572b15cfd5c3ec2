package verify

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/cloudhooks/webhooks/shared/secrets"
)

// ErrUntrustedKeyURL means a request names a certificate URL outside the
// hosts its provider signs from: whoever sent it could have signed it with
// a certificate of their own.
var ErrUntrustedKeyURL = errors.New("verify: untrusted certificate URL")

// Bounds of the certificate cache: providers rotate a handful of signing
// certificates (SNS one per region, PayPal one per environment); a request
// naming a new URL each time must not grow memory or cause a fetch for
// each name forever.
const (
	maxCerts     = 64
	maxCertBytes = 64 << 10
)

// fetcher fetches and caches the signing certificates of the fetched-key
// families (SNS, PayPal) and makes the GETs their handshakes need. One
// fetcher serves a process; tests give a verifier its own, whose client
// answers for the real host names with test certificates.
type fetcher struct {
	client  *http.Client
	timeout time.Duration

	mu    sync.Mutex
	certs map[string]*x509.Certificate
	order []string // insertion order, for eviction
}

var processFetcher = sync.OnceValue(func() *fetcher { return newFetcher(nil) })

func newFetcher(c *http.Client) *fetcher {
	if c == nil {
		c = &http.Client{
			// A signing certificate URL is named by the request: never
			// follow it anywhere the host check did not see.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	timeout := secrets.DefaultTimeout
	if d, err := time.ParseDuration(os.Getenv(secrets.EnvTimeout)); err == nil && d > 0 {
		timeout = d
	}
	return &fetcher{client: c, timeout: timeout, certs: map[string]*x509.Certificate{}}
}

// checkedURL parses raw and applies the provider's host rule to it.
func checkedURL(raw string, allow func(*url.URL) bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" || !allow(u) {
		return nil, fmt.Errorf("%w: %.200q", ErrUntrustedKeyURL, raw)
	}
	return u, nil
}

// cert returns the certificate at raw, which allow must accept. A fetch
// that fails is ErrSecretUnavailable (503: the provider retries), within
// the secrets timeout; a certificate that does not parse or is outside its
// validity is ErrUntrustedKeyURL.
func (f *fetcher) cert(ctx context.Context, raw string, allow func(*url.URL) bool, now time.Time) (*x509.Certificate, error) {
	u, err := checkedURL(raw, allow)
	if err != nil {
		return nil, err
	}
	key := u.String()
	f.mu.Lock()
	c, ok := f.certs[key]
	f.mu.Unlock()
	if !ok {
		body, err := f.get(ctx, key, maxCertBytes)
		if err != nil {
			return nil, err
		}
		block, _ := pem.Decode(body)
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: %s does not hold a PEM certificate", ErrUntrustedKeyURL, u.Host)
		}
		if c, err = x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("%w: the certificate at %s does not parse", ErrUntrustedKeyURL, u.Host)
		}
		f.remember(key, c)
	}
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return nil, fmt.Errorf("%w: the certificate at %s is not valid now", ErrUntrustedKeyURL, u.Host)
	}
	return c, nil
}

func (f *fetcher) remember(key string, c *x509.Certificate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.certs[key]; ok {
		return
	}
	if len(f.order) >= maxCerts {
		delete(f.certs, f.order[0])
		f.order = f.order[1:]
	}
	f.certs[key] = c
	f.order = append(f.order, key)
}

// get fetches a checked URL, reading at most limit bytes.
func (f *fetcher) get(ctx context.Context, raw string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSecretUnavailable, err)
	}
	f.mu.Lock()
	client := f.client // UseLocalCertificates may swap it at start-up
	f.mu.Unlock()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrSecretUnavailable, req.URL.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: %s", ErrSecretUnavailable, req.URL.Host, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: GET %s: %v", ErrSecretUnavailable, req.URL.Host, err)
	case int64(len(body)) > limit:
		return nil, fmt.Errorf("%w: %s answered more than %d bytes", ErrUntrustedKeyURL, req.URL.Host, limit)
	}
	return body, nil
}

// fetching is a scheme that fetches keys: WithHTTPClient gives it its own
// fetcher.
type fetching interface {
	useClient(c *http.Client)
}
