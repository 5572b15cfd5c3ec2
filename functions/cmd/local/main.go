// Command local runs every function on one port with the embedded
// configuration and no Google Cloud account: `make run`.
//
//	http://localhost:8080/store/github    → the Store function's github source
//	http://localhost:8080/relay/stripe    → the Relay function's stripe source
//
// Secret Manager references (sm:NAME) are read from .local/secrets/NAME,
// created with a random development key on first run (a request refused
// by its key names that file in its log line, key_file); the request log
// is one readable line per request (LOG_FORMAT=text unless set); Store writes
// newline-delimited JSON under .local/data unless BigQuery (or its
// emulator) is configured; Relay records the messages it would send; Trigger
// queues in process unless PUBSUB_EMULATOR_HOST is set (then the runner
// creates the topics and subscriptions on the emulator and serves the
// worker at /triggerworker). Send a signed test
// event with `go run ./functions/cmd/send store/github`, and watch it, and
// replay it, at http://localhost:8080/_/ (package inspector).
//
// The runner listens on 127.0.0.1 (LISTEN_HOST changes it, PORT the port)
// and stands in for Cloud Run's front end: it appends the connecting
// client's address to X-Forwarded-For, the entry allow_cidrs trusts, and
// answers 404 to a path not in its clean form ("/store//github",
// "/store/x/../github") instead of redirecting to it. A browser opening
// http://localhost:8080/ (or /_) is sent on to the inspector.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/cloudhooks/webhooks" // registers every function
	"github.com/cloudhooks/webhooks/functions/cmd/local/inspector"
	"github.com/cloudhooks/webhooks/functions/trigger"
	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/verify"
	"github.com/cloudhooks/webhooks/shared/verify/ipallow"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		// No timestamp before it: a configuration error starts with
		// FILE:LINE:COL, which terminals and editors link to.
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	setDefault("WEBHOOKS_SECRETS_DIR", filepath.Join(".local", "secrets"))
	setDefault("WEBHOOKS_DATA_DIR", filepath.Join(".local", "data"))
	// One readable line per request at a terminal; LOG_FORMAT=json gives
	// the lines Cloud Run writes.
	setDefault(logging.EnvFormat, "text")
	if _, err := portSetting(os.Getenv); err != nil {
		return err
	}
	if err := followPort(os.Getenv("PORT")); err != nil {
		return err
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err // it names the file, line and field
	}
	if err := devSecrets(cfg, os.Getenv("WEBHOOKS_SECRETS_DIR")); err != nil {
		return fmt.Errorf("devSecrets: %w", err)
	}
	if err := serveLocalCertificates(cfg, os.Getenv("WEBHOOKS_SECRETS_DIR")); err != nil {
		return err
	}
	// Listen first: PORT=0 picks a free port, and the URLs printed are the
	// ones actually served.
	l, err := listen(os.Getenv)
	if err != nil {
		return err
	}
	insp, err := inspector.New(inspector.Options{Dir: filepath.Join(os.Getenv("WEBHOOKS_DATA_DIR"), "inspector"), Config: cfg, Secrets: secrets.Process()})
	if err != nil {
		l.Close()
		return err
	}
	defer insp.Close()
	h, b, err := routes(ctx, baseURL(l.Addr()), router{strings.Trim(inspector.Path, "/"): insp.Page()}, schemeLabels(cfg))
	if err != nil {
		l.Close()
		return err
	}
	fmt.Printf("%s\nSecrets: %s   Data: %s\n", b, os.Getenv("WEBHOOKS_SECRETS_DIR"), os.Getenv("WEBHOOKS_DATA_DIR"))
	fmt.Printf("Inspector: %s%s\n", baseURL(l.Addr()), inspector.Path)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	if err := recordRunner(port); err != nil {
		fmt.Fprintf(os.Stderr, "recording %s for send: %v\n", RunnerFile, err)
	}
	srv := &http.Server{Handler: insp.Record(h), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// DefaultListenHost is where the runner listens unless LISTEN_HOST says
// otherwise: this machine only. Its development keys are in .local/secrets,
// readable by anyone who can read the folder, so it is no service for
// others to reach.
const DefaultListenHost = "127.0.0.1"

// listen opens the runner's socket on LISTEN_HOST (DefaultListenHost when
// unset; "0.0.0.0" for every interface) and PORT (8080 when unset). A port
// already taken, another runner's most likely, says to choose another
// with PORT.
func listen(getenv func(string) string) (net.Listener, error) {
	host, port := getenv("LISTEN_HOST"), getenv("PORT")
	if host == "" {
		host = DefaultListenHost
	}
	port, err := portSetting(getenv)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if errors.Is(err, syscall.EADDRINUSE) {
		next, _ := strconv.Atoi(port)
		return nil, fmt.Errorf("port %s is in use (another make run?): set PORT to a free one, e.g. PORT=%d make run: %w", port, next+1, err)
	}
	if err != nil {
		return nil, fmt.Errorf("net.Listen: %w", err)
	}
	return l, nil
}

// portSetting is PORT, 8080 when unset, checked to be a port number:
// net.Listen would say "lookup tcp/abc" of PORT=abc.
func portSetting(getenv func(string) string) (string, error) {
	port := getenv("PORT")
	if port == "" {
		return "8080", nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("PORT=%q: want a port number from 0 to 65535 (0 picks a free one), e.g. PORT=8081 make run", port)
	}
	return port, nil
}

// baseURL is the URL the runner prints and points Pub/Sub push at:
// localhost when it listens on every interface.
func baseURL(addr net.Addr) string {
	a := addr.(*net.TCPAddr)
	if a.IP.IsUnspecified() {
		return fmt.Sprintf("http://localhost:%d", a.Port)
	}
	return "http://" + a.String()
}

// schemeLabels names each source's provider for the banner, by
// "function/source": the catalogue's title, or the generic scheme.
func schemeLabels(cfg *config.File) map[string]string {
	labels := map[string]string{}
	for _, src := range cfg.Sources() {
		label := src.Verify.Scheme
		if p, ok := verify.Lookup(label); ok {
			label = p.Title
		}
		labels[src.Function+"/"+src.Name] = label
	}
	return labels
}

// banner is what the runner prints it serves: the functions that have
// sources, and a URL per source.
type banner struct{ functions, urls []string }

func (b banner) String() string {
	if len(b.functions) == 0 {
		return "Serving no function: the sources file has no sources"
	}
	return "Serving " + strings.Join(b.functions, ", ") + "\n" + strings.Join(b.urls, "\n")
}

// routes mounts each HTTP function under its lower-case name, the way each
// is its own service (and URL) when deployed, beside the runner's own pages
// in fns, all behind frontEnd. A function without sources answers 404 to
// everything, and the banner leaves it out.
func routes(ctx context.Context, base string, fns router, labels map[string]string) (http.Handler, banner, error) {
	var b banner
	var failed []functionError
	for _, name := range pipeline.Registered() {
		h, err := pipeline.Lookup(ctx, name)
		if err != nil {
			// Every function's problems in one run, not one per start.
			failed = append(failed, functionError{name, err})
			continue
		}
		prefix := strings.ToLower(name)
		fns[prefix] = http.StripPrefix("/"+prefix, h)
		sources := h.Sources()
		sort.Strings(sources)
		if len(sources) > 0 {
			b.functions = append(b.functions, name)
		}
		for _, s := range sources {
			b.urls = append(b.urls, fmt.Sprintf("  %-8s %s/%s/%s  %s", name, base, prefix, s, labels[prefix+"/"+s]))
		}
	}
	if len(failed) > 0 {
		return nil, banner{}, joinFunctionErrors(failed)
	}
	if os.Getenv("PUBSUB_EMULATOR_HOST") != "" {
		// With the emulator, async Trigger jobs go through Pub/Sub as
		// deployed: a push subscription delivers them to TriggerWorker,
		// signed. The emulator mints no OIDC token: PushHandler answers
		// loopback clients addressing a loopback name only, and refuses
		// what a cross-site page can send.
		fns["triggerworker"] = workerRoute()
		if err := trigger.SetUpEmulator(ctx, base+"/triggerworker"); err != nil {
			return nil, banner{}, err
		}
		b.urls = append(b.urls, fmt.Sprintf("  %-8s %s/triggerworker (Pub/Sub push from %s)", "Worker", base, os.Getenv("PUBSUB_EMULATOR_HOST")))
	}
	return frontEnd(fns), b, nil
}

// workerRoute is the local TriggerWorker, mounted at /triggerworker.
func workerRoute() http.Handler { return http.StripPrefix("/triggerworker", trigger.PushHandler()) }

// router sends /NAME/... to the function mounted as NAME and answers 404
// to everything else. Unlike http.ServeMux it never redirects a function's
// path: a redirect is not in the status contract, and a provider does not
// follow one. Only a browser's GET of "/" or "/_", which no function
// serves, is sent on to the inspector.
type router map[string]http.Handler

func (rt router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if inspectorPath := strings.TrimSuffix(inspector.Path, "/"); (p == "/" || p == inspectorPath) &&
		(r.Method == http.MethodGet || r.Method == http.MethodHead) && rt[strings.Trim(inspectorPath, "/")] != nil {
		http.Redirect(w, r, inspector.Path, http.StatusFound)
		return
	}
	if clean := path.Clean(p); p != clean && p != clean+"/" {
		// "/store//github", "/store/x/../github": ServeMux would redirect
		// to the clean path; a deployed function has no such URL.
		http.NotFound(w, r)
		return
	}
	name, _, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	h := rt[name]
	if !ok || h == nil {
		http.NotFound(w, r)
		return
	}
	h.ServeHTTP(w, r)
}

// frontEnd does what Cloud Run's front end does before a request reaches
// a function: it appends the address of the client that connected to
// X-Forwarded-For, the entry that allow_cidrs reads. Without it, a client
// would choose its own address by sending the header.
func frontEnd(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if prior := r.Header.Values(ipallow.HeaderForwardedFor); len(prior) > 0 {
			host = strings.Join(prior, ", ") + ", " + host
		}
		// A copy: the caller's request stays as the client sent it. The
		// inspector records it after this returns, and a replay of a
		// request recorded with the entry added got a second one.
		r = r.WithContext(r.Context())
		if r.Header = r.Header.Clone(); r.Header == nil {
			r.Header = http.Header{}
		}
		r.Header.Set(ipallow.HeaderForwardedFor, host)
		next.ServeHTTP(w, r)
	})
}

// devSecrets writes a random development key for every Secret Manager
// secret the configuration references and that has no local file yet:
// every source's verify.secret and verify.handshake_secret, the secret of
// every Trigger action, and Trigger's job key, each in the format its user
// reads.
func devSecrets(cfg *config.File, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if cfg.Function("trigger") != nil {
		// Trigger signs its jobs and TriggerWorker checks them with the
		// job key (package trigger, jobkey.go).
		ref := os.Getenv(trigger.EnvJobKey)
		if ref == "" {
			ref = trigger.DefaultJobKey
		}
		if err := devSecret(dir, ref, verify.SchemeHMAC); err != nil {
			return err
		}
	}
	for _, section := range []string{"store", "relay", "trigger"} {
		fn := cfg.Function(section)
		if fn == nil {
			continue
		}
		for _, src := range fn.Sources {
			for _, ref := range []string{src.Verify.Secret, src.Verify.HandshakeSecret} {
				if err := devSecret(dir, ref, src.Verify.Scheme); err != nil {
					return err
				}
			}
			// Trigger's http actions sign with Standard Webhooks
			// (package trigger); the rules are otherwise the pattern's to
			// decode, and only their action secrets matter here, read the
			// way the terraform reads them (terraform/source.tf).
			var rules []struct {
				Actions []struct {
					Secret string `json:"secret"`
				} `json:"actions"`
			}
			if section != "trigger" || len(src.Rules) == 0 || json.Unmarshal(src.Rules, &rules) != nil {
				continue
			}
			for _, r := range rules {
				for _, a := range r.Actions {
					if err := devSecret(dir, a.Secret, verify.SchemeStandardWebhooks); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// devSecret writes the file of reference refText, an sm: reference, with a
// key for scheme unless it exists; other references (env:, file:) are the
// developer's to provide.
func devSecret(dir, refText, scheme string) error {
	if refText == "" {
		return nil
	}
	ref, err := secrets.ParseRef(refText)
	if err != nil || ref.SecretID() == "" {
		return nil
	}
	path := filepath.Join(dir, ref.SecretID())
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	secret, signing, err := verify.DevKeys(scheme)
	if err != nil {
		return fmt.Errorf("a development key for %s: %w", refText, err)
	}
	if signing != secret {
		// An asymmetric scheme: the verifier reads the public key, send
		// signs with the private one, as the provider would.
		if err := os.WriteFile(path+verify.SigningSuffix, []byte(signing+"\n"), 0o600); err != nil {
			return err
		}
	}
	return os.WriteFile(path, []byte(secret+"\n"), 0o600)
}

// functionError is one function's start-up problems.
type functionError struct {
	name string
	err  error
}

// joinFunctionErrors reports every function's problems once: a problem
// every failing function shares (a bad LOG_LEVEL, which they all read) is
// said once, without a function's name; the rest name the functions they
// belong to.
func joinFunctionErrors(failed []functionError) error {
	var order []string
	owners := map[string][]string{}
	for _, f := range failed {
		for _, line := range strings.Split(f.err.Error(), "\n") {
			if line == "" {
				continue
			}
			if _, seen := owners[line]; !seen {
				order = append(order, line)
			}
			owners[line] = append(owners[line], f.name)
		}
	}
	var out []string
	for _, line := range order {
		if len(owners[line]) == len(failed) && len(failed) > 1 {
			out = append(out, line)
		} else {
			out = append(out, strings.Join(owners[line], ", ")+": "+line)
		}
	}
	return errors.New(strings.Join(out, "\n"))
}

// serveLocalCertificates stands in for AWS and PayPal: each SNS or
// PayPal source's development certificate (in NAME-signing, beside its
// key) is what the verifier fetches from verify.LocalCertURL, on the
// provider's real host name, so that a request send signs verifies as the
// provider's would, host rule included.
func serveLocalCertificates(cfg *config.File, dir string) error {
	certs := map[string][]byte{}
	for _, src := range cfg.Sources() {
		p, _ := verify.Lookup(src.Verify.Scheme)
		if p.Family != verify.FamilySNS && p.Family != verify.FamilyPayPal {
			continue
		}
		ref, err := secrets.ParseRef(src.Verify.Secret)
		if err != nil || ref.SecretID() == "" {
			continue
		}
		signing, err := os.ReadFile(filepath.Join(dir, ref.SecretID()+verify.SigningSuffix))
		if err != nil {
			continue // the user's own: nothing to stand in for
		}
		cert, err := verify.LocalCertificate(signing)
		if err != nil {
			return fmt.Errorf("%s: %w", src.Name, err)
		}
		certs[verify.LocalCertURL(p.Family, cert)] = cert
	}
	if len(certs) > 0 {
		verify.UseLocalCertificates(certs)
	}
	return nil
}

// RunnerFile is where the runner records what it serves (the sources file
// and the port), so that send, run from any shell of the same checkout,
// signs for the sources the runner verifies.
var RunnerFile = filepath.Join(".local", "runner.json")

// followPort makes the embedded sources' loopback action (the sample
// Trigger rule calls http://localhost:8080/store/standard) follow PORT:
// with PORT=8094 it would land on another runner, or nowhere. Only the
// embedded defaults are rewritten, into .local/webhooks.yaml; a file of
// the user's own is served as written.
func followPort(port string) error {
	if port == "" || port == "8080" || os.Getenv(config.EnvPath) != "" {
		return nil
	}
	rewritten := config.OnPort(config.Embedded(), port)
	path := filepath.Join(".local", "webhooks.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, rewritten, 0o600); err != nil {
		return err
	}
	return os.Setenv(config.EnvPath, path)
}

// recordRunner writes RunnerFile: the sources file served ("" for the
// embedded defaults) and the port.
func recordRunner(port string) error {
	cfgPath := os.Getenv(config.EnvPath)
	if cfgPath != "" {
		if abs, err := filepath.Abs(cfgPath); err == nil {
			cfgPath = abs
		}
	}
	b, err := json.Marshal(map[string]string{"config": cfgPath, "port": port})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(RunnerFile), 0o700); err != nil {
		return err
	}
	return os.WriteFile(RunnerFile, b, 0o600)
}

func setDefault(key, value string) {
	if _, ok := os.LookupEnv(key); !ok {
		os.Setenv(key, value)
	}
}
