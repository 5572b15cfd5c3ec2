// Command send is the providers' "send test event" button: it signs a sample
// payload the way the source's provider would and POSTs it to a function,
// local or deployed.
//
//	go run ./functions/cmd/send store/github                  # to `make run`
//	go run ./functions/cmd/send http://localhost:8080/store/github   # the URL make run prints
//	go run ./functions/cmd/send -type charge.refunded store/stripe    # another sample
//	go run ./functions/cmd/send -repeat relay/stripe          # the previous event again: a duplicate
//	go run ./functions/cmd/send -handshake store/slack        # the provider's URL verification
//	go run ./functions/cmd/send -url https://store-….run.app store/github
//	go run ./functions/cmd/send -payload my.json relay/stripe
//	go run ./functions/cmd/send -payload my.form -content-type application/x-www-form-urlencoded store/mysource
//	go run ./functions/cmd/send -n 20000 -c 80 -size 65536 store/github   # load run
//	go run ./functions/cmd/send replay -project my-project                # rerun dead-lettered Trigger jobs
//
// The source (FUNCTION/SOURCE) is looked up in the configuration, so the
// scheme and the secret are the ones the function verifies with; the secret
// is resolved the same way the functions resolve it (locally from
// .local/secrets when the URL is this machine's, otherwise from Secret
// Manager with your gcloud credentials).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/verify"
)

func main() {
	if err := realMain(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		os.Exit(1)
	}
}

const usage = `usage: send [flags] FUNCTION/SOURCE      e.g. send store/github
       send [flags] URL                  e.g. send http://localhost:8080/store/github (as make run prints it)
       send replay [-project P] [-subscription S] [-topic T] [-max N]

Flags may come before or after the target. Signs a sample event of the
source's provider (or -payload FILE) with the source's secret, the way the
provider would, and posts it. Every send is a
new event (a fresh event id) unless -id or -repeat says otherwise.

`

func realMain(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "replay" {
		return replay(ctx, args[1:], out)
	}
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	base := fs.String("url", "", "function URL (default http://localhost:$PORT/FUNCTION, the local runner; PORT defaults to 8080)")
	payloadFile := fs.String("payload", "", "payload file to send as it is, JSON unless -content-type says otherwise (default: a sample of the source's provider)")
	contentType := fs.String("content-type", "application/json", "media type of the -payload file: application/json, or "+formType+" for a form (checked to parse as one)")
	eventType := fs.String("type", "", "event type: selects the provider's sample of that type, and sets the type header of providers that send one")
	fixedID := fs.String("id", "", "event id to send (default: a fresh one per request)")
	repeat := fs.Bool("repeat", false, "send the previous event to this source again, same id and body (a provider's retry)")
	n := fs.Int("n", 1, "requests to send; more than one is a load run that prints progress, throughput and latency")
	c := fs.Int("c", 80, "concurrent requests of a load run (Cloud Run's default concurrency per instance)")
	size := fs.Int("size", 0, "pad a JSON payload to this many bytes (load runs with large bodies)")
	bearer := fs.String("bearer", "", "Google ID token for oidc sources, e.g. $(gcloud auth print-identity-token --audiences=AUDIENCE)")
	asForm := fs.Bool("form", false, "post the JSON payload inside the source's form field (payload=…), as GitHub's form content type and Slack's interactive requests do")
	handshakes := fs.Bool("handshake", false, "perform the source's ownership handshakes, as the provider does when the URL is registered, and check the replies")
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	targets, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case len(targets) != 1:
		fs.Usage()
		return errors.New("want one FUNCTION/SOURCE or URL")
	case *n < 1:
		return fmt.Errorf("-n %d: want 1 or more requests", *n)
	case *c < 1:
		return fmt.Errorf("-c %d: want 1 or more concurrent requests", *c)
	case *size < 0:
		return fmt.Errorf("-size %d: want a size in bytes, 0 for no padding", *size)
	case *repeat && *fixedID != "":
		return errors.New("-repeat and -id both name the event id: use one")
	}
	runner := findRunner()
	port := os.Getenv("PORT")
	if port == "" {
		port = runner.Port
	}
	t, err := parseTarget(targets[0], *base, port)
	if err != nil {
		return err
	}
	if isLocal(t.url) {
		if _, ok := os.LookupEnv("WEBHOOKS_SECRETS_DIR"); !ok {
			os.Setenv("WEBHOOKS_SECRETS_DIR", filepath.Join(runner.dir, ".local", "secrets"))
		}
		if _, ok := os.LookupEnv(config.EnvPath); !ok && runner.Config != "" {
			// The sources the runner serves, not the embedded defaults.
			os.Setenv(config.EnvPath, runner.Config)
		}
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	src, err := findSource(cfg, t.function, t.source)
	if err != nil {
		return err
	}
	s := &sender{url: t.url, src: src, bearer: *bearer}
	if *handshakes {
		if s.key, s.handshakeKey, err = keys(ctx, src); err != nil {
			return fmt.Errorf("secret of %s/%s: %w", t.function, t.source, err)
		}
		return s.handshakes(ctx, out)
	}
	if src.Verify.Scheme == verify.SchemeOIDC && s.bearer == "" {
		return fmt.Errorf("%s/%s verifies Google-signed ID tokens (scheme oidc), which send cannot make: pass one with "+
			"-bearer \"$(gcloud auth print-identity-token --impersonate-service-account=%s --audiences=%s --include-email)\"",
			t.function, t.source, src.Verify.Email, src.Verify.Audience)
	}
	if *payloadFile != "" {
		if s.body, err = os.ReadFile(*payloadFile); err != nil {
			return err
		}
		if s.contentType, err = payloadType(*payloadFile, s.body, *contentType); err != nil {
			return err
		}
		s.eventType = *eventType
	} else {
		smp, text, err := findSample(src.Verify.Scheme, *eventType)
		if err != nil {
			return err
		}
		s.body, s.template, s.eventType, s.contentType = text, true, smp.typ, smp.contentType()
	}
	if *asForm {
		if s.formField = src.PayloadField; s.formField == "" {
			p, _ := verify.Lookup(src.Verify.Scheme)
			s.formField = p.FormField
		}
		switch {
		case s.formField == "":
			return fmt.Errorf("-form: %s/%s names no form field (payload_field, or a preset that posts forms such as github or slack)", t.function, t.source)
		case s.contentType != "application/json":
			return errors.New("-form wraps a JSON payload")
		}
	}
	if s.padTo = *size; s.padTo > 0 && s.contentType != "application/json" {
		return errors.New("-size pads JSON payloads only")
	}
	if s.key, s.handshakeKey, err = keys(ctx, src); err != nil {
		return fmt.Errorf("secret of %s/%s: %w", t.function, t.source, err)
	}
	last := lastIDFile(t)
	switch {
	case *fixedID != "":
		s.id = *fixedID
	case *repeat:
		// A provider's retry: the same bytes under the same headers; only
		// a scheme that signs a timestamp gets a fresh signature (Sign
		// writes the same one again for the others).
		b, err := os.ReadFile(last)
		var prev sent
		if err == nil {
			err = json.Unmarshal(b, &prev)
		}
		if err != nil {
			return fmt.Errorf("-repeat: no previous send to %s/%s recorded (%s)", t.function, t.source, last)
		}
		s.id, s.body, s.contentType, s.eventType = prev.ID, prev.Body, prev.ContentType, prev.EventType
		s.template, s.padTo, s.formField = false, 0, ""
	}
	if *n > 1 {
		return s.load(ctx, *n, min(*c, *n), out)
	}
	res, err := s.send(ctx, http.DefaultClient)
	if err != nil {
		return err
	}
	if b, err := json.Marshal(sent{ID: res.id, Body: res.body, ContentType: res.contentType, EventType: s.eventType}); err == nil {
		if err := os.MkdirAll(filepath.Dir(last), 0o700); err == nil {
			_ = os.WriteFile(last, b, 0o600)
		}
	}
	fmt.Fprintf(out, "POST %s → %d %s\n%s", t.url, res.status, http.StatusText(res.status), res.answer)
	if res.status >= 300 {
		return fmt.Errorf("%s answered %d", t.url, res.status)
	}
	return nil
}

// target is where a send goes: a source of a function, and its URL.
type target struct{ function, source, url string }

// parseTarget reads FUNCTION/SOURCE (with -url, or the local runner on
// PORT) or a source's URL: the local runner's http://HOST/FUNCTION/SOURCE
// as its banner prints it, or a deployed function's https://FUNCTION-….run.app/SOURCE.
func parseTarget(arg, base, port string) (target, error) {
	if port == "" {
		port = "8080"
	}
	if strings.Contains(arg, "://") {
		u, err := url.Parse(arg)
		if err != nil {
			return target{}, fmt.Errorf("%s: %w", arg, err)
		}
		segs := strings.Split(strings.Trim(u.Path, "/"), "/")
		switch {
		case len(segs) == 2 && segs[0] != "":
			return target{segs[0], segs[1], arg}, nil
		case len(segs) == 1 && segs[0] != "":
			fn, _, _ := strings.Cut(u.Hostname(), "-")
			if slices.Contains(functionNames, fn) {
				return target{fn, segs[0], arg}, nil
			}
		}
		return target{}, fmt.Errorf("%s: cannot tell the function and source from the URL; say them: send -url %s://%s FUNCTION/SOURCE", arg, u.Scheme, u.Host)
	}
	function, source, ok := strings.Cut(arg, "/")
	if !ok || function == "" || source == "" || strings.Contains(source, "/") {
		return target{}, fmt.Errorf("%q: want FUNCTION/SOURCE (store/github) or the source's URL", arg)
	}
	if base == "" {
		base = "http://localhost:" + port + "/" + function
	}
	base = strings.TrimSuffix(base, "/")
	if strings.HasSuffix(base, "/"+function+"/"+source) || (!strings.HasSuffix(base, "/"+function) && strings.HasSuffix(base, "/"+source)) {
		// -url is already the source's URL (the banner's line).
		return target{function, source, base}, nil
	}
	return target{function, source, base + "/" + source}, nil
}

// functionNames are the configuration's sections, one per function.
var functionNames = []string{"store", "relay", "trigger"}

// runnerState is what the local runner recorded in .local/runner.json:
// the sources file it serves and its port; dir is the checkout it runs in
// (send may run from any folder below it).
type runnerState struct {
	Config string `json:"config"`
	Port   string `json:"port"`
	dir    string
}

// findRunner looks for .local/runner.json in the working folder and its
// parents; the zero state (this folder) when there is none.
func findRunner() runnerState {
	dir, err := os.Getwd()
	if err != nil {
		return runnerState{dir: "."}
	}
	for d := dir; ; {
		if b, err := os.ReadFile(filepath.Join(d, ".local", "runner.json")); err == nil {
			var st runnerState
			if json.Unmarshal(b, &st) == nil {
				st.dir = d
				return st
			}
		}
		if _, err := os.Stat(filepath.Join(d, ".local")); err == nil {
			return runnerState{dir: d}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return runnerState{dir: dir}
		}
		d = parent
	}
}

// sent is the last request sent to a source, kept for -repeat.
type sent struct {
	ID          string `json:"id"`
	Body        []byte `json:"body"`
	ContentType string `json:"content_type"`
	EventType   string `json:"event_type,omitempty"`
}

// lastIDFile is where the last request sent to t is kept, for -repeat.
func lastIDFile(t target) string {
	return filepath.Join(findRunner().dir, ".local", "send", t.function+"."+t.source+".last.json")
}

// keys reads the source's signing key and handshake key: the first line
// of each secret, the key providers sign with while a rotation is under
// way.
func keys(ctx context.Context, src config.Source) (key, handshakeKey []byte, err error) {
	read := func(ref string) ([]byte, error) {
		if ref == "" {
			return nil, nil
		}
		value, err := secrets.FromEnv().Secret(ctx, ref)
		if err != nil {
			return nil, err
		}
		return verify.SigningEntry(value), nil
	}
	if key, err = read(src.Verify.Secret); err != nil {
		return nil, nil, err
	}
	if ref, ok := verify.SigningRef(src.Verify, key); ok {
		// The source's secret holds the provider's public key (or, for
		// SNS and PayPal, the topics or webhook id); the local loop keeps
		// the private key beside it (make run writes both).
		if key, err = read(ref); err != nil {
			return nil, nil, fmt.Errorf("the private key of %s: %w", src.Verify.Secret, err)
		}
	} else if verify.SignsWithPrivateKey(src.Verify.Scheme) {
		return nil, nil, fmt.Errorf("%s signs with a private key, which send reads from sm:NAME%s beside the source's sm:NAME", src.Verify.Scheme, verify.SigningSuffix)
	}
	if handshakeKey, err = read(src.Verify.HandshakeSecret); err != nil {
		return nil, nil, err
	}
	if handshakeKey == nil {
		handshakeKey = key
	}
	return key, handshakeKey, nil
}

// formType is the media type of a form body.
const formType = "application/x-www-form-urlencoded"

// payloadType checks that a -payload file is what -content-type says it
// is and returns the type to send it as. A file that was not JSON used to
// be sent as a form, silently: a JSON file with a typo went out as a form
// the function refused for a reason the user could not see.
func payloadType(file string, body []byte, contentType string) (string, error) {
	switch contentType {
	case "application/json":
		if !json.Valid(body) {
			return "", fmt.Errorf("-payload %s is not JSON; for a form, say so with -content-type %s", file, formType)
		}
	case formType:
		if _, err := url.ParseQuery(strings.TrimSpace(string(body))); err != nil {
			return "", fmt.Errorf("-payload %s is not a form (%s): %w", file, formType, err)
		}
	default:
		return "", fmt.Errorf("-content-type %q: send posts application/json or %s", contentType, formType)
	}
	return contentType, nil
}

// parseInterspersed parses args with fs, flags before and after the
// targets alike (send store/github -type push), and returns the targets.
// The flag package stops at the first argument that is not a flag.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var targets []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return targets, nil
		}
		targets = append(targets, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// sender signs and posts one source's payload.
type sender struct {
	url          string
	src          config.Source
	key          []byte // nil: the scheme signs nothing
	handshakeKey []byte
	bearer       string

	body        []byte
	template    bool   // body is a sample: fill in the event id
	padTo       int    // pad a JSON body to this many bytes
	contentType string // of the body
	formField   string // post the JSON inside this form field
	eventType   string
	id          string // "": a fresh id per request
}

// result is one response: its status, the event id sent and what the
// function said it did.
type result struct {
	status int
	id     string
	// body and contentType are what was sent, for -repeat.
	body        []byte
	contentType string
	outcome     string // the reply's result or error
	answer      []byte
}

// send posts one freshly signed request (new timestamp; new event id
// unless the id is fixed).
func (s *sender) send(ctx context.Context, client *http.Client) (result, error) {
	id := s.id
	if id == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	body := s.body
	if s.template {
		body = render(body, id)
	}
	body, err := s.withToken(body)
	if err != nil {
		return result{}, err
	}
	if body, err = pad(body, s.padTo); err != nil {
		return result{}, err
	}
	contentType := s.contentType
	if p, _ := verify.Lookup(s.src.Verify.Scheme); p.Family == verify.FamilySNS && s.key != nil {
		// SNS posts its own envelope, the payload as its Message, signed
		// inside the body, as text/plain.
		topic, err := s.snsTopic(ctx)
		if err != nil {
			return result{}, err
		}
		if body, err = verify.SignSNS(s.key, topic, string(body), time.Now()); err != nil {
			return result{}, err
		}
		contentType = "text/plain; charset=UTF-8"
	}
	if s.formField != "" {
		body = []byte(url.Values{s.formField: {string(body)}}.Encode())
		contentType = "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "cloudhooks-send/1")
	providerHeaders(req, s.src.Verify.Scheme, s.eventType, id)
	if err := s.sign(req, body); err != nil {
		return result{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("POST %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res := result{status: resp.StatusCode, id: id, answer: answer, body: body, contentType: contentType}
	var r struct{ ID, Result, Error string }
	if json.Unmarshal(answer, &r) == nil {
		res.outcome = r.Result + r.Error
	}
	return res, nil
}

// snsTopic is the topic an SNS source accepts: the first of its secret.
func (s *sender) snsTopic(ctx context.Context) (string, error) {
	value, err := secrets.FromEnv().Secret(ctx, s.src.Verify.Secret)
	if err != nil {
		return "", err
	}
	topic, _, _ := strings.Cut(strings.TrimSpace(string(value)), "\n")
	return strings.TrimSpace(topic), nil
}

// sign adds the source's credentials to req, as its provider would.
func (s *sender) sign(req *http.Request, body []byte) error {
	if p, _ := verify.Lookup(s.src.Verify.Scheme); p.Family == verify.FamilySNS {
		return nil // signed inside the body
	}
	switch {
	case s.bearer != "":
		req.Header.Set("Authorization", "Bearer "+s.bearer)
	case s.key == nil || (s.src.Verify.Scheme == verify.SchemeToken && s.src.Verify.Field != ""):
	default:
		if err := verify.Sign(s.src.Verify, s.key, time.Now(), req, body); err != nil {
			return fmt.Errorf("verify.Sign: %w", err)
		}
	}
	return nil
}

// withToken puts the key into the payload field of a token source that
// reads its token from the body (verify.field), where its sender puts it.
func (s *sender) withToken(body []byte) ([]byte, error) {
	if s.src.Verify.Scheme != verify.SchemeToken || s.src.Verify.Field == "" || s.key == nil {
		return body, nil
	}
	var obj map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&obj); err != nil {
		return nil, fmt.Errorf("the token goes in payload field %s: the payload is not a JSON object", s.src.Verify.Field)
	}
	path := strings.Split(s.src.Verify.Field, ".")
	m := obj
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = string(s.key)
	return json.Marshal(obj)
}

// pad grows a JSON object payload to size bytes with a "padding" field.
func pad(body []byte, size int) ([]byte, error) {
	const field = `,"padding":""}`
	if size <= len(body) {
		return body, nil
	}
	trimmed := bytes.TrimRight(body, " \n\t")
	if len(trimmed) == 0 || trimmed[len(trimmed)-1] != '}' {
		return nil, errors.New("-size needs a JSON object payload")
	}
	out := append([]byte{}, trimmed[:len(trimmed)-1]...)
	out = append(out, field[:len(field)-2]...)
	if n := size - len(out) - 2; n > 0 {
		out = append(out, bytes.Repeat([]byte("x"), n)...)
	}
	return append(out, '"', '}'), nil
}

func findSource(cfg *config.File, function, name string) (config.Source, error) {
	fn := cfg.Function(function)
	if fn == nil {
		var have []string
		for _, f := range functionNames {
			if cfg.Function(f) != nil {
				have = append(have, f)
			}
		}
		return config.Source{}, fmt.Errorf("no function %q in the configuration (there are: %s)", function, strings.Join(have, ", "))
	}
	var names []string
	for _, s := range fn.Sources {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return config.Source{}, fmt.Errorf("%s has no source %q (there are: %s)", function, name, strings.Join(names, ", "))
}

// providerHeaders sets the event id and type headers the provider sends
// beside its signature. Providers that put the id in the payload get it
// there from the sample (Stripe's "id", Slack's "event_id").
func providerHeaders(req *http.Request, scheme, eventType, id string) {
	p, ok := verify.Lookup(scheme)
	if !ok {
		return
	}
	if p.Family == verify.FamilySNS {
		// The envelope's own type (the sample's is its Message's).
		req.Header.Set(p.TypeHeader, "Notification")
		return
	}
	if p.TypeHeader != "" && eventType != "" {
		req.Header.Set(p.TypeHeader, eventType)
	}
	for _, h := range p.IDHeaders {
		if p.Family == verify.FamilyStandard {
			// Standard Webhooks signs the id: one header family only,
			// the one the scheme signs with (verify.Sign).
			req.Header.Set(h, "msg_"+id)
			break
		}
		req.Header.Set(h, id)
	}
}

// isLocal reports whether base (the -url flag) is `make run` on this
// machine, whose secrets are the development keys in .local/secrets: no
// URL, or one whose host is a loopback name or address.
func isLocal(base string) bool {
	if base == "" {
		return true
	}
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
