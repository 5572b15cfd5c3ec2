// Package pipeline is the request path every webhook function shares:
//
//	request → source (by URL path) → method → body limit → handshake
//	        → verify (shared/verify) → decode → event.Event → Pattern
//
// A function (Store, Relay, Trigger) supplies only its Pattern, the work it
// does with a verified event; the pipeline reads every request once, the
// same way for every function (package pipelinetest runs one battery of
// malformed requests against all three), and owns everything HTTP: which
// statuses mean what (one function, status), what is logged (one line per
// request), and when 2xx may be answered (only after the Pattern returned
// without error, that is after its work is durably done or queued).
//
//	h, err := pipeline.New(ctx, cfg.Function("store"), secrets, newStorePattern, opts)
//	http.Handle("/", h)
//
// Functions normally call Register from init instead, which also registers
// the function with the Functions Framework.
package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/strictjson"
	"github.com/cloudhooks/webhooks/shared/verify"
	"github.com/cloudhooks/webhooks/shared/verify/handshake"
	"github.com/cloudhooks/webhooks/shared/verify/ipallow"
)

// Factory builds the Pattern of one source at start-up. It must not dial
// Google Cloud: clients are created on first use, because every instance
// runs every function package's init.
type Factory func(ctx context.Context, src config.Source) (pattern.Pattern, error)

// Handler serves every source of one function, one URL path each.
type Handler struct {
	opts    Options
	sources map[string]*source
}

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
}

// New builds the handler of one function from its configuration section.
// Every source's verifier and pattern are built here, so a bad scheme,
// option or rule stops start-up with an error naming the file, line and
// field ("webhooks.yaml:12:17: store.sources[1].verify.scheme: …").
func New(ctx context.Context, fn *config.Function, secrets verify.SecretSource, newPattern Factory, opts Options) (*Handler, error) {
	opts = opts.withDefaults()
	if opts.Function != "" {
		// Every line: the request line, and the verifiers' warnings.
		opts.Logger = opts.Logger.With(logging.FieldFunction, opts.Function)
	}
	h := &Handler{opts: opts, sources: map[string]*source{}}
	if fn == nil {
		return h, nil
	}
	var errs []error
	for i, sc := range fn.Sources {
		s, err := newSource(ctx, sc, secrets, newPattern, opts)
		if err != nil {
			errs = append(errs, fn.Located(i, err))
			continue
		}
		h.sources[sc.Name] = s
	}
	// Each message already names its file, line and field: a prefix would
	// only push that off the start of the line. A bad environment variable
	// fails every source that reads it: it is reported once.
	if err := config.JoinOnce(errs...); err != nil {
		return nil, err
	}
	return h, nil
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

// Sources returns the names of the sources h serves, which are also their
// URL paths.
func (h *Handler) Sources() []string {
	names := make([]string, 0, len(h.sources))
	for name := range h.sources {
		names = append(names, name)
	}
	return names
}

// request is what one request accumulates for its log line.
type request struct {
	source string
	ev     *event.Event
	bytes  int
	status int // what serve answered itself; 0 when it left that to finish
	result string
}

// ServeHTTP runs one request through the pipeline.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.opts.Now()
	rq := &request{}
	defer func() {
		if p := recover(); p != nil {
			h.opts.Logger.Error("panic serving webhook", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			h.finish(w, r, rq, start, errPanic)
		}
	}()
	err := h.serve(w, r, rq)
	h.finish(w, r, rq, start, err)
}

// serve does the work of a request; it writes only handshake and
// acknowledgement replies itself and leaves every other answer to finish.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rq *request) error {
	s := h.sources[strings.Trim(r.URL.Path, "/")]
	if s == nil {
		return ErrUnknownSource
	}
	rq.source = s.name
	if r.Method != http.MethodPost && len(s.early) == 0 && !s.lateGET {
		return ErrMethod
	}
	if !s.allow.Allowed(r) {
		return ErrForbiddenAddress
	}
	body, err := h.readBody(w, r)
	rq.bytes = len(body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if done, err := s.handshake(ctx, w, r, body, s.early, rq); done || err != nil {
		return err
	}
	if r.Method != http.MethodPost && (r.Method != http.MethodGet || !s.lateGET) {
		return ErrMethod
	}
	id, err := s.verifier.Verify(ctx, r, body)
	if err != nil {
		return err
	}
	if done, err := s.handshake(ctx, w, r, body, s.late, rq); done || err != nil {
		return err
	}
	if r.Method != http.MethodPost {
		return ErrMethod // a verified GET that was not the handshake
	}
	if id.Acknowledge {
		rq.status, rq.result = http.StatusOK, "acknowledged"
		writeJSON(w, rq.status, reply{Result: rq.result})
		return nil
	}
	ev, err := s.envelope(r, body, id, h.opts.Now())
	rq.ev = ev
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.Deadline)
	defer cancel()
	out, err := s.pattern.Handle(ctx, ev)
	if err != nil {
		return err
	}
	if out.Status == 0 {
		out.Status = http.StatusOK
	}
	rq.status, rq.result = out.Status, out.Result
	writeJSON(w, out.Status, reply{ID: ev.ID, Result: out.Result})
	return nil
}

// readBody reads the whole body, never more than the limit.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > h.opts.MaxBodyBytes {
		return nil, &http.MaxBytesError{Limit: h.opts.MaxBodyBytes}
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes), r.ContentLength)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrReadBody, err)
	}
	return body, nil
}

// maxUpfrontBytes is the most readAll sets aside before bytes arrive,
// about the size of most webhook bodies, so that a request that announces
// 25 MB and sends nothing costs no more than this.
const maxUpfrontBytes = 64 << 10

// growth is how many times the bytes that have arrived readAll's buffer
// may grow to: the bound on what a slow sender holds before its request
// is authenticated, and what makes the buffers of a large body add up to
// about its size (1 + 1/8 + 1/64 + … ≈ 1.14).
const growth = 8

// readAll reads a body of the given Content-Length (-1: unknown). The
// length is the client's word, and trusting it up front let a header-only
// request take 25 MB; growing by doubling instead left 1.6 times a large
// body in garbage (52 MiB for 20 MiB), which at 80 concurrent requests is
// an instance's memory. So the buffer grows toward the length in steps of
// growth× as the bytes arrive, from a first buffer (at most
// maxUpfrontBytes) chosen so that the last step ends on the length: a body
// up to maxUpfrontBytes is read into one buffer of its size, a larger one
// into buffers that add up to about 1.14 times its size, and a sender
// holds at most growth times what it has sent. net/http ends such a body
// after exactly that many bytes, so a short read is an error of the
// connection.
func readAll(body io.Reader, contentLength int64) ([]byte, error) {
	if contentLength < 0 {
		return io.ReadAll(body)
	}
	n := int(contentLength)
	buf := make([]byte, 0, firstBuffer(n))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = append(make([]byte, 0, min(growth*cap(buf), n)), buf...)
		}
		m, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		switch {
		case err == io.EOF && len(buf) < n:
			return nil, io.ErrUnexpectedEOF
		case err != nil && err != io.EOF:
			return nil, err
		}
	}
	return buf, nil
}

// firstBuffer is the size of readAll's first buffer for a body of n
// bytes: n divided by growth as often as it takes to be at most
// maxUpfrontBytes (rounded up, so that growing from it reaches n).
func firstBuffer(n int) int {
	for n > maxUpfrontBytes {
		n = (n + growth - 1) / growth
	}
	return n
}

// handshake answers r when it is one of the given ownership handshakes.
func (s *source) handshake(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, kinds []string, rq *request) (bool, error) {
	if len(kinds) == 0 {
		return false, nil
	}
	keys, err := s.verifier.HandshakeKeys(ctx)
	if err != nil {
		return false, err
	}
	for _, kind := range kinds {
		reply, err := handshake.Answer(kind, r, body, keys)
		if err != nil {
			return false, err
		}
		if reply == nil {
			continue
		}
		rq.status, rq.result = reply.Status, "handshake "+kind
		for k, v := range reply.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(reply.Status)
		_, _ = w.Write(reply.Body)
		return true, nil
	}
	return false, nil
}

// envelope builds the event from a verified request. It is the one
// reading of a request for every function: whatever a pattern does, the
// same bytes and headers become the same event or the same refusal.
func (s *source) envelope(r *http.Request, body []byte, id verify.Identity, now time.Time) (*event.Event, error) {
	ev := &event.Event{
		Source:     s.name,
		ID:         id.ID,
		Type:       id.Type,
		ReceivedAt: now.UTC(),
		Headers:    s.keptHeaders(r.Header),
	}
	if err := identityEncoding(r.Header); err != nil {
		return ev, err
	}
	version, err := singleHeader(r.Header, "X-Webhook-Version")
	if err != nil {
		return ev, err
	}
	mediaType := mediaType(r.Header.Get("Content-Type"))
	switch {
	case mediaType == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return ev, fmt.Errorf("%w: form: %w", ErrMalformedBody, err)
		}
		vs, carried := form[s.formField]
		switch {
		case s.formField == "" || !carried:
			// A plain form (Slack's slash commands, Twilio): its fields.
			ev.Payload = formJSON(form)
		case len(vs) != 1:
			return ev, fmt.Errorf("%w: form field %s given %d times", ErrMalformedBody, s.formField, len(vs))
		default:
			// The provider's JSON in a form field (GitHub's form content
			// type, Slack's interactive payload): verified as received
			// above, read as the JSON event it carries from here on.
			if err := s.jsonPayload(ev, []byte(vs[0]), id); err != nil {
				return ev, fmt.Errorf("form field %s: %w", s.formField, err)
			}
		}
	case mediaType == "" || mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"),
		mediaType == "text/plain" && s.plainJSON:
		if err := s.jsonPayload(ev, body, id); err != nil {
			return ev, err
		}
	default:
		return ev, fmt.Errorf("%w: %q", ErrContentType, mediaType)
	}
	if version != "" {
		ev.SchemaVersion = version
	}
	for _, v := range []string{ev.ID, ev.Type, ev.SchemaVersion} {
		// A payload's fields are UTF-8 already (strictjson); a header's
		// bytes are whatever the sender put there.
		if !utf8.ValidString(v) {
			return ev, fmt.Errorf("%w: %.100q", ErrMalformedIdentity, v)
		}
	}
	if ev.ID == "" {
		// A provider that sends no delivery id gets a content hash: its
		// retries carry the same bytes, so they share the id.
		hashed := body
		if s.secretField != nil {
			hashed = ev.Payload // without the token
		}
		sum := sha256.Sum256(hashed)
		ev.ID = "sha256:" + hex.EncodeToString(sum[:])
	}
	return ev, nil
}

// identityEncoding refuses a body sent with a Content-Encoding other than
// identity (several values, or one repeated, included).
func identityEncoding(h http.Header) error {
	for _, v := range h.Values("Content-Encoding") {
		for _, coding := range strings.Split(v, ",") {
			if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
				return fmt.Errorf("%w: %.40q", ErrContentEncoding, c)
			}
		}
	}
	return nil
}

// singleHeader returns the named header, "" when absent; a repeated one is
// refused as verification refuses a repeated signature or id header (401):
// which copy a proxy puts first must not decide the event.
func singleHeader(h http.Header, name string) (string, error) {
	switch vs := h.Values(name); len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", fmt.Errorf("%w: %s is repeated", verify.ErrMalformedHeader, name)
}

// jsonPayload reads a JSON payload into ev: one strict reading for every
// function (package strictjson): a body that encoding/json would read
// differently from its bytes (duplicate names, text that is not UTF-8) is
// refused here, in the same pass that checks the syntax and finds the
// top-level fields (the id and type fields the preset names, or the usual
// ones), before any function acts on it.
func (s *source) jsonPayload(ev *event.Event, body []byte, id verify.Identity) error {
	idField, typeField := orDefault(id.IDField, "id"), id.TypeField
	var top struct{ id, eventID, typ, event, version, presetType []byte }
	err := strictjson.Validate(body, func(name, value []byte) {
		switch string(name) {
		case idField:
			top.id = value
		case "event_id":
			top.eventID = value
		case typeField:
			top.presetType = value
		case "type":
			top.typ = value
		case "event":
			top.event = value
		case "version":
			top.version = value
		}
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformedBody, err)
	}
	if !objectOrArray(body) {
		// A scalar has no id, type or field for a rule to read: Store
		// stored one that Relay's and Trigger's rules refused (422). Every
		// function takes the same shapes: an object, or an array (batches).
		return fmt.Errorf("%w: the payload is a JSON scalar, want an object or an array", ErrMalformedBody)
	}
	if s.secretField != nil {
		// The token has done its work: what is stored and what rules see
		// is the payload without it (and a content-hash id is not a hash
		// of the secret).
		if body, _, err = strictjson.Remove(body, s.secretField); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformedBody, err)
		}
	}
	ev.Payload = body
	switch {
	case ev.ID != "":
	case id.IDField == "event_id":
		ev.ID = scalar(top.eventID)
	case id.IDField != "":
		ev.ID = scalar(top.id)
	}
	for _, t := range [][]byte{top.presetType, top.typ, top.event} {
		if ev.Type == "" {
			ev.Type = scalar(t)
		}
	}
	ev.SchemaVersion = scalar(top.version)
	return nil
}

// objectOrArray reports whether valid JSON is an object or an array: its
// first byte after white space.
func objectOrArray(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// mediaType is the lower-case media type of a Content-Type value, without
// its parameters: what mime.ParseMediaType returns first, without building
// the parameter map on every request.
func mediaType(contentType string) string {
	t, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// scalar renders a JSON string or number field as text; anything else
// (object, array, bool, null, absent) is "".
func scalar(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		s, _ := strictjson.Unquote(raw)
		return string(s)
	case c == '-' || (c >= '0' && c <= '9'):
		// The literal itself: a 64-bit numeric id survives exactly, where
		// a float64 would round it.
		return string(raw)
	}
	return ""
}

// formJSON turns form fields into a JSON object: one value as a string,
// several as an array.
func formJSON(form url.Values) json.RawMessage {
	obj := make(map[string]any, len(form))
	for k, vs := range form {
		if len(vs) == 1 {
			obj[k] = vs[0]
		} else {
			obj[k] = vs
		}
	}
	b, _ := json.Marshal(obj) // strings and string slices always marshal
	return b
}

// droppedHeaders carry transport or infrastructure detail, not the event.
var droppedHeaders = map[string]bool{
	"Accept-Encoding": true, "Connection": true, "Content-Length": true,
	"Forwarded": true, "Traceparent": true, "Tracestate": true, "Via": true,
	"X-Cloud-Trace-Context": true,
}

// credentialWords are the one list of what marks a header as a credential,
// never kept in an event, whatever the provider or the platform calls it:
// X-Hub-Signature-256, X-Gitlab-Token, Secret, Authorization,
// X-Serverless-Authorization, Proxy-Authorization, X-Api-Key, Cookie,
// X-Shopify-Hmac-Sha256, X-Goog-Iap-Jwt-Assertion (the signed identity
// that Identity-Aware Proxy adds)... A source's own verify.header is
// dropped too, whatever its name.
var credentialWords = [][]byte{
	[]byte("signature"), []byte("secret"), []byte("token"), []byte("auth"), []byte("hmac"),
	[]byte("password"), []byte("key"), []byte("cookie"), []byte("credential"),
	[]byte("jwt"), []byte("assertion"),
}

func (s *source) keptHeaders(h http.Header) map[string]string {
	kept := make(map[string]string, len(h))
	for name, values := range h {
		if name == s.secretHeader || droppedHeaders[name] || strings.HasPrefix(name, "X-Forwarded-") {
			continue
		}
		if credentialHeader(name) {
			continue
		}
		if len(values) == 1 {
			kept[name] = values[0]
		} else {
			kept[name] = strings.Join(values, ", ")
		}
	}
	return kept
}

// CredentialHeader reports whether a header of this name carries a
// credential (a signature, token, password, key, cookie...) by the list
// that keeps them out of every event, for tools that show requests.
func CredentialHeader(name string) bool {
	return credentialHeader(http.CanonicalHeaderKey(name))
}

// credentialHeader is CredentialHeader of a canonical name.
func credentialHeader(name string) bool {
	// Idempotency-Key is a delivery id, not a key.
	return name != "Idempotency-Key" && containsFold(name, credentialWords)
}

// containsFold reports whether s holds any of the lower-case ASCII words,
// ignoring case. Header names are short: lower-casing into a stack buffer
// spares an allocation per header of every request.
func containsFold(s string, words [][]byte) bool {
	var buf [128]byte
	lower := buf[:0]
	if len(s) > len(buf) {
		lower = make([]byte, 0, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	for _, w := range words {
		if bytes.Contains(lower, w) {
			return true
		}
	}
	return false
}

// finish answers every request that serve did not answer itself and logs
// the request's one line.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, rq *request, start time.Time, err error) {
	status := rq.status
	if err != nil {
		var retryAfter time.Duration
		var public string
		status, retryAfter, public = h.status(err)
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
		}
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		writeJSON(w, status, reply{Error: public})
	}
	h.log(r, rq, start, status, err)
}

func (h *Handler) log(r *http.Request, rq *request, start time.Time, status int, err error) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String(logging.FieldSource, rq.source),
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(h.opts.Now().Sub(start).Microseconds())/1000),
		slog.Int("bytes", rq.bytes),
	)
	if rq.source == "" {
		// No source at this path: the path says what the sender meant
		// (a URL pasted twice, a function's name missing); bounded, as
		// anyone can send any path.
		attrs = append(attrs, slog.String("path", r.URL.Path[:min(len(r.URL.Path), 200)]))
	}
	if rq.ev != nil {
		attrs = append(attrs, slog.String(logging.FieldEventID, rq.ev.ID), slog.String(logging.FieldEventType, rq.ev.Type))
	}
	if rq.result != "" {
		attrs = append(attrs, slog.String("outcome", rq.result))
	}
	if err != nil {
		// Which check refused the request, in words a filter can match,
		// and the detail: the header, by how much the timestamp missed,
		// how many keys were tried; never a signature, key or payload.
		if check := refusedBy(err); check != "" {
			attrs = append(attrs, slog.String("refused_by", check))
		}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	attrs = append(attrs, logging.Trace(r, h.opts.Project)...)
	h.opts.Logger.LogAttrs(r.Context(), level, "webhook request", attrs...)
}

func writeJSON(w http.ResponseWriter, status int, v reply) {
	body, _ := json.Marshal(v) // a struct of strings: cannot fail
	h := w.Header()
	// Canonical keys assigned directly: Set would canonicalize them again
	// on every response.
	h["Content-Type"] = []string{"application/json"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// reply is the body of every response: what happened to the event, or why
// the request was refused. The detail goes to the log, never here.
type reply struct {
	ID     string `json:"id,omitempty"`
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
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
