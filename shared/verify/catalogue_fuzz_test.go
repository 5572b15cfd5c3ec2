package verify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzCatalogue feeds arbitrary signature, timestamp and id header values
// and bodies to every preset of every family, keyed as its vector is.
// Properties: no panic, nothing forged passes, and every error is a
// documented sentinel that the pipeline maps to its status.
func FuzzCatalogue(f *testing.F) {
	f.Add("t=1700000000,v1=00", "1700000000", "msg_1", []byte(`{"a":1}`))
	f.Add("ts=1;h1=zz,v1=,v1", "2024-03-27T15:42:29.551", "", []byte(`[{"Type":"Notification","SignatureVersion":"2"}]`))
	f.Add("sha256=", "-1", "x", []byte(`{"Type":"SubscriptionConfirmation","SigningCertURL":"https://sns.us-east-1.amazonaws.com/x.pem"}`))
	f.Add("v1,AAAA v1a,BBBB", "99999999999999999999", "1", []byte("a=1&a=2&%zz"))
	type preset struct {
		name string
		s    scheme
		keys []key
		hdrs []string
	}
	var presets []preset
	for _, v := range vectors {
		p, _ := Lookup(v.provider)
		if p.Family == FamilyNone || p.Family == FamilyToken || p.Family == FamilyBasic {
			continue // a token passes when it is the key: nothing to forge
		}
		s, err := newScheme(Config{Scheme: v.provider, URL: v.url})
		if err != nil {
			f.Fatal(err)
		}
		if fs, ok := s.(fetching); ok {
			fs.useClient(&http.Client{Transport: certServer(v.certs)})
		}
		k := key{secret: []byte(v.key)}
		if !v.weakKey {
			if k, err = s.decodeKey([]byte(v.key)); err != nil {
				f.Fatal(err)
			}
		}
		var hdrs []string
		for h := range v.headers {
			hdrs = append(hdrs, h)
		}
		hdrs = append(hdrs, p.Header)
		presets = append(presets, preset{v.provider, s, []key{k}, hdrs})
	}
	sentinels := []error{ErrMissingHeader, ErrMalformedHeader, ErrBadSignature, ErrTooOld, ErrTooNew,
		ErrUnknownKey, ErrSecretUnavailable, ErrUntrustedKeyURL}
	f.Fuzz(func(t *testing.T, sig, ts, id string, body []byte) {
		for _, p := range presets {
			r := httptest.NewRequest(http.MethodPost, "https://hooks.example.com/x", strings.NewReader(""))
			r.URL.RawQuery = url.Values{"signature": {sig}}.Encode()
			for _, h := range p.hdrs {
				switch lower := strings.ToLower(h); {
				case strings.Contains(lower, "time"):
					r.Header.Set(h, ts)
				case strings.Contains(lower, "id"):
					r.Header.Set(h, id)
				default:
					r.Header.Set(h, sig)
				}
			}
			in := &input{ctx: context.Background(), r: r, body: body, now: time.Unix(1_700_000_000, 0), tolerance: DefaultTolerance}
			_, err := p.s.verify(in, p.keys)
			if err == nil {
				t.Fatalf("%s: fuzz input passed verification", p.name)
			}
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("%s: error %v is not a documented sentinel", p.name, err)
			}
		}
	})
}
