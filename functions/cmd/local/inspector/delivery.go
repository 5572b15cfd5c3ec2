package inspector

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// Kinds of delivery: how the request reached the runner.
const (
	KindReceived = "received"  // from a client (send, a provider, a tunnel)
	KindReplay   = "replay"    // a recorded delivery re-sent as received
	KindResigned = "re-signed" // a recorded delivery signed afresh
)

// Verification outcomes, read from the pipeline's request log line.
const (
	VerifyPassed     = "passed"      // the signature (or token) matched
	VerifyUnsigned   = "unsigned"    // the source's scheme is none
	VerifyHandshake  = "handshake"   // an ownership handshake was answered
	VerifyFailed     = "failed"      // refused: 401, or 403 (address, handshake)
	VerifyNotChecked = "not checked" // the request ended before verification
)

// Delivery is one request the runner served, as the page shows it and the
// file keeps it. Credentials are never in it: a header that carries the
// secret itself (a token, a password) is kept with no value, and one that
// carries a signature keeps its value, which proves nothing without the
// key, so that a replay after a restart is still the request as received.
// A query parameter that is the secret (Meta's hub.verify_token) is kept
// in the target with its value masked, the value in memory only.
type Delivery struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Of       int64     `json:"of,omitempty"` // the Seq a replay repeats
	Method   string    `json:"method"`
	Target   string    `json:"target"` // the request URI as received, secret query values masked
	Host     string    `json:"host"`
	Remote   string    `json:"remote"`
	Function string    `json:"function"` // the first path segment: store, relay, trigger
	Source   string    `json:"source"`
	// Provider is the catalogue's name for the source's scheme
	// ("Discord (interactions)"), empty for the generic schemes.
	Provider string `json:"provider,omitempty"`

	Status       int     `json:"status"`
	LatencyMS    float64 `json:"latency_ms"`
	Verification string  `json:"verification"`
	// Reason is the pipeline's logged error: why the request was refused
	// or failed.
	Reason    string `json:"reason,omitempty"`
	EventID   string `json:"event_id,omitempty"`
	EventType string `json:"event_type,omitempty"`
	// Result is what the function did: its one-word outcome (stored, sent,
	// queued, ran, duplicate, ignored).
	Result string `json:"result,omitempty"`
	// Log holds the other lines logged while serving the request (the
	// messages Relay would send...).
	Log []string `json:"log,omitempty"`
	// Jobs are what the jobs the delivery queued did, in the order they
	// ended, which may be after the delivery was answered (Trigger's
	// async rules on the in-process queue): at most maxJobs, the others
	// counted in JobsNotShown.
	Jobs         []Job `json:"jobs,omitempty"`
	JobsNotShown int   `json:"jobs_not_shown,omitempty"`

	Headers []Header `json:"headers"`
	// Body is the request body as text, or base64 when it is not UTF-8.
	Body       string `json:"body"`
	BodyBase64 bool   `json:"body_base64,omitempty"`
	// Truncated: the body was longer than the inspector keeps, so it
	// cannot be replayed.
	Truncated bool   `json:"truncated,omitempty"`
	Response  string `json:"response,omitempty"`
	// Note says what a replay could not repeat.
	Note string `json:"note,omitempty"`
	// Changes lists how a replay differs from the delivery it repeats
	// (Of): each header added, removed or changed, and the body.
	Changes []string `json:"changes,omitempty"`
}

// Header is one request header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
	// Masked: a credential, shown masked on the page.
	Masked bool `json:"masked,omitempty"`
	// Secret: the value is the secret itself and is kept in memory only,
	// for replays until the runner stops.
	Secret bool `json:"secret,omitempty"`
}

// sourceOf finds the configured source that a request path names
// ("/store/github" → the store section's github source).
func sourceOf(cfg *config.File, function, name string) (config.Source, bool) {
	if cfg == nil {
		return config.Source{}, false
	}
	fn := cfg.Function(function)
	if fn == nil {
		return config.Source{}, false
	}
	for _, s := range fn.Sources {
		if s.Name == name {
			return s, true
		}
	}
	return config.Source{}, false
}

// splitPath reads function and source from a request path.
func splitPath(path string) (function, source string) {
	function, source, _ = strings.Cut(strings.Trim(path, "/"), "/")
	return function, source
}

// headers lists h sorted by name, marking credentials: whatever the
// pipeline keeps out of events (pipeline.CredentialHeader) and the
// source's own verify.header. Signatures keep their value; a header that
// is the secret (a token, Authorization) keeps none.
func headers(h http.Header, vc verify.Config) []Header {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	own := http.CanonicalHeaderKey(vc.Header)
	out := make([]Header, 0, len(names))
	for _, name := range names {
		for _, value := range h[name] {
			hd := Header{Name: name, Value: value}
			if pipeline.CredentialHeader(name) || (own != "" && name == own) {
				hd.Masked = true
				hd.Secret = carriesSecret(name, vc)
				if hd.Secret {
					hd.Value = ""
				}
			}
			out = append(out, hd)
		}
	}
	return out
}

// carriesSecret reports whether the credential header name holds the
// secret itself rather than a signature made with it.
func carriesSecret(name string, vc verify.Config) bool {
	if vc.Header != "" && http.CanonicalHeaderKey(vc.Header) == name {
		return vc.Scheme == verify.SchemeToken || vc.Scheme == verify.SchemeBasic
	}
	lower := strings.ToLower(name)
	return !strings.Contains(lower, "signature") && !strings.Contains(lower, "hmac")
}

// maskQuery returns target (a request URI) with the values of the query
// parameters named in names replaced by mask, and the names it masked. A
// parameter is matched by its name as the server reads it (url.ParseQuery:
// "hub%2Everify_token" is hub.verify_token); the rest of the query stays
// byte for byte as received, since URL-bound schemes sign it.
func maskQuery(target string, names []string) (string, []string) {
	path, query, ok := strings.Cut(target, "?")
	if !ok || len(names) == 0 {
		return target, nil
	}
	var masked []string
	parts := strings.Split(query, "&")
	for n, part := range parts {
		rawKey, _, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil || !slices.Contains(names, key) {
			continue
		}
		parts[n] = rawKey + "=" + mask
		if !slices.Contains(masked, key) {
			masked = append(masked, key)
		}
	}
	if masked == nil {
		return target, nil
	}
	return path + "?" + strings.Join(parts, "&"), masked
}

// showValue is a credential header's value as the page shows it: a
// secret itself is masked whole; a signature keeps its structure and
// what is not secret (Stripe's "t=1712345678,v1=••••••••", GitHub's
// "sha256=••••••••", Standard Webhooks' "v1,••••••••"), the signature
// bytes masked.
func showValue(h Header) string {
	if h.Secret || h.Value == "" {
		return mask
	}
	var out strings.Builder
	part := func(p string) {
		if p == "" {
			return
		}
		key, _, ok := strings.Cut(p, "=")
		switch {
		case ok && timestampKeys[key]:
			out.WriteString(p)
		case ok && labelKey(key):
			out.WriteString(key + "=" + mask)
		case !ok && versionTag.MatchString(p):
			out.WriteString(p) // "v1" of "v1,<base64>"
		default:
			out.WriteString(mask)
		}
	}
	start := 0
	for n, c := range h.Value {
		if c == ',' || c == ' ' {
			part(h.Value[start:n])
			out.WriteRune(c)
			start = n + 1
		}
	}
	part(h.Value[start:])
	return out.String()
}

// timestampKeys name the parts of a signature header that are its
// timestamp, which the page shows.
var timestampKeys = map[string]bool{"t": true, "ts": true, "timestamp": true}

// versionTag is a signature's version in a header of "v1,<signature>"
// parts (Standard Webhooks).
var versionTag = regexp.MustCompile(`^v[0-9]+[a-z]?$`)

// labelKey reports whether s reads as the name of a signature part
// ("v1", "sha256"), short enough that it cannot be a signature's bytes.
func labelKey(s string) bool {
	if s == "" || len(s) > 8 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// changes lists how replay r differs from its original o: the headers by
// name (never their values, some being credentials), compared with the
// in-memory secret values where the record keeps none, and the body.
func changes(o, r *Delivery, osec, rsec secretParts) []string {
	values := func(d *Delivery, sp secretParts) map[string]string {
		m := map[string]string{}
		for _, h := range d.Headers {
			v := h.Value
			if h.Secret {
				v = "\x00" + strings.Join(sp.header[h.Name], "\x00")
			}
			if old, ok := m[h.Name]; ok {
				v = old + "\n" + v
			}
			m[h.Name] = v
		}
		return m
	}
	ov, rv := values(o, osec), values(r, rsec)
	var out []string
	names := make([]string, 0, len(ov)+len(rv))
	for name := range ov {
		names = append(names, name)
	}
	for name := range rv {
		if _, ok := ov[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		a, inO := ov[name]
		b, inR := rv[name]
		switch {
		case !inO:
			out = append(out, "header "+name+": added")
		case !inR:
			out = append(out, "header "+name+": removed")
		case a != b:
			out = append(out, "header "+name+": changed")
		}
	}
	ob, rb := o.body(), r.body()
	if osec.body != nil {
		ob = osec.body
	}
	if rsec.body != nil {
		rb = rsec.body
	}
	if bytes.Equal(ob, rb) {
		out = append(out, fmt.Sprintf("body: the same %d bytes", len(rb)))
	} else {
		at := 0
		for at < len(ob) && at < len(rb) && ob[at] == rb[at] {
			at++
		}
		out = append(out, fmt.Sprintf("body: differs from byte %d (%d bytes, then %d)", at, len(ob), len(rb)))
	}
	if o.Target != r.Target {
		out = append(out, "target: changed")
	}
	return out
}

// setBody keeps body in d as text, or base64 when it is not UTF-8.
func (d *Delivery) setBody(body []byte, truncated bool) {
	d.Truncated = truncated
	if utf8.Valid(body) {
		d.Body = string(body)
		return
	}
	d.Body, d.BodyBase64 = b64.EncodeToString(body), true
}

// body returns the recorded body's bytes.
func (d *Delivery) body() []byte {
	if d.BodyBase64 {
		b, _ := b64.DecodeString(d.Body)
		return b
	}
	return []byte(d.Body)
}

// observe reads what the pipeline logged while serving the request: its
// request line (the record with a status) says the event, the outcome and
// the error; a job's last line (jobOf), what the job did; every other line
// is kept as what the function did.
func (d *Delivery) observe(records []slog.Record, scheme string) {
	var requestLine bool
	for _, r := range records {
		if j, ok := jobOf(r); ok {
			d.addJob(j)
			continue
		}
		attrs := map[string]string{}
		var text strings.Builder
		text.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			v := a.Value.String()
			attrs[a.Key] = v
			if v != "" {
				text.WriteString(" " + a.Key + "=" + v)
			}
			return true
		})
		if _, ok := attrs["status"]; !ok || requestLine {
			d.Log = append(d.Log, text.String())
			continue
		}
		requestLine = true
		if s := attrs["source"]; s != "" {
			d.Source = s
		}
		d.EventID, d.EventType = attrs["event_id"], attrs["event_type"]
		d.Result, d.Reason = attrs["outcome"], attrs["error"]
	}
	d.Verification = verification(d.Status, d.EventID != "", d.Result, scheme)
	if p, ok := verify.Lookup(scheme); ok {
		d.Provider = p.Title
	}
}

// verification classifies the pipeline's answer. An event id in the log
// line means the pipeline built the event, which it does only after
// verification; a handshake or an acknowledgement is answered without one.
func verification(status int, event bool, result, scheme string) string {
	switch {
	case strings.HasPrefix(result, "handshake"):
		return VerifyHandshake
	case event || result == "acknowledged":
		if scheme == verify.SchemeNone {
			return VerifyUnsigned
		}
		return VerifyPassed
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return VerifyFailed
	}
	return VerifyNotChecked
}
