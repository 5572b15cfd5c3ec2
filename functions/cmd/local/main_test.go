package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/functions/cmd/local/inspector"
	"github.com/cloudhooks/webhooks/shared/config"
)

// loopback is the listener of the runner that the embedded sample's
// Trigger action calls (as followPort points it at the runner's PORT):
// TestMain holds it open from the start, so that no other process takes
// its port, for the first test that serves on it (loopbackListener).
var loopback net.Listener

// loopbackListener returns loopback, or, once a test has served on it
// and closed it (go test -count=2), listens on its address again.
func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	l := loopback
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", loopbackAddr); err != nil {
			t.Fatal(err)
		}
	}
	loopback = nil
	return l
}

// loopbackAddr is loopback's address.
var loopbackAddr string

// TestMain configures the runner as realMain does, with the embedded
// sources file except that Store's github source allows GitHub's hook
// range only and the sample's loopback action calls loopback, and folders
// of its own.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "local-runner-test")
	if err != nil {
		panic(err)
	}
	if loopback, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		panic(err)
	}
	loopbackAddr = loopback.Addr().String()
	code := func() int {
		defer os.RemoveAll(dir)
		embedded, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "config", "webhooks.yaml"))
		if err != nil {
			panic(err)
		}
		const github = "        scheme: github\n        secret: sm:github-webhook-secret\n"
		if !strings.Contains(string(embedded), github) {
			panic("webhooks.yaml: Store's github source not found")
		}
		restricted := strings.Replace(string(embedded), github, github+"        allow_cidrs: [192.30.252.0/22]\n", 1)
		_, port, _ := net.SplitHostPort(loopbackAddr)
		cfgPath := filepath.Join(dir, "webhooks.yaml")
		if err := os.WriteFile(cfgPath, config.OnPort([]byte(restricted), port), 0o600); err != nil {
			panic(err)
		}
		os.Setenv(config.EnvPath, cfgPath)
		os.Setenv("WEBHOOKS_SECRETS_DIR", filepath.Join(dir, "secrets"))
		os.Setenv("WEBHOOKS_DATA_DIR", filepath.Join(dir, "data"))
		os.Unsetenv("PUBSUB_EMULATOR_HOST")
		cfg, err := config.Load(os.LookupEnv)
		if err != nil {
			panic(err)
		}
		if err := devSecrets(cfg, os.Getenv("WEBHOOKS_SECRETS_DIR")); err != nil {
			panic(err)
		}
		return m.Run()
	}()
	os.Exit(code)
}

// runner serves the runner's routes on a loopback test server.
func runner(t *testing.T) *httptest.Server {
	t.Helper()
	h, _, err := routes(context.Background(), "http://localhost", router{}, nil)
	if err != nil {
		t.Fatalf("routes: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// post sends an unsigned push event to path, with extra headers.
func post(t *testing.T, srv *httptest.Server, path string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(`{"ref":"refs/heads/main"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	for k, vs := range header {
		req.Header[k] = vs
	}
	// The client must not follow a redirect: the test is about the
	// runner's own answer.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestRunnerListensOnLoopbackUnlessToldOtherwise(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		loopback bool
	}{
		{"default: this machine only", map[string]string{"PORT": "0"}, true},
		{"LISTEN_HOST opens it to every interface", map[string]string{"PORT": "0", "LISTEN_HOST": "0.0.0.0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := listen(func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			ip := l.Addr().(*net.TCPAddr).IP
			if ip.IsLoopback() != tt.loopback {
				t.Fatalf("listening on %s, want loopback %v", l.Addr(), tt.loopback)
			}
		})
	}
}

func TestRunnerAnswersPathsOutsideTheContractWith404NotARedirect(t *testing.T) {
	srv := runner(t)
	tests := []struct {
		path   string
		status int
	}{
		{"/store//github", http.StatusNotFound},
		{"/store/x/../github", http.StatusNotFound},
		{"/store/./github", http.StatusNotFound},
		{"/store", http.StatusNotFound},
		{"/nosuchfunction/github", http.StatusNotFound},
		// The clean path reaches the function: unsigned, so 401.
		{"/store/stripe", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp := post(t, srv, tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("POST %s: %d (Location %q), want %d", tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.status)
			}
		})
	}
}

func TestRunnerDecidesTheClientAddressNotTheClient(t *testing.T) {
	// The attack: a client outside allow_cidrs claims an allowed address
	// in X-Forwarded-For, the header allow_cidrs reads.
	srv := runner(t)
	resp := post(t, srv, "/store/github", http.Header{"X-Forwarded-For": {"192.30.252.1"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a loopback client claiming 192.30.252.1 got %d, want 403", resp.StatusCode)
	}
}

// The embedded sample's Trigger action calls the runner itself; with
// PORT=8094 it called port 8080, another runner or nothing.
func TestSampleActionFollowsThePort(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(config.EnvPath, "")
	os.Unsetenv(config.EnvPath)
	if err := followPort("8094"); err != nil {
		t.Fatal(err)
	}
	path := os.Getenv(config.EnvPath)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no rewritten sources file: %v", err)
	}
	if strings.Contains(string(b), "localhost:8080/") || !strings.Contains(string(b), "http://localhost:8094/store/standard") {
		t.Errorf("%s does not call the runner on 8094", path)
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil || cfg.Function("trigger") == nil {
		t.Fatalf("the rewritten file does not load: %v", err)
	}
}

// The local worker route runs signed jobs for the emulator: a web page
// that a browser on this machine opens cannot post one, nor can a client
// addressing the runner by another name (DNS rebinding).
func TestLocalWorkerRouteRefusesCrossSiteRequests(t *testing.T) {
	srv := httptest.NewServer(frontEnd(router{"triggerworker": workerRoute()}))
	t.Cleanup(srv.Close)
	const body = `{"message":{"data":"e30=","attributes":{},"messageId":"1"}}`
	tests := []struct {
		name   string
		header http.Header
		host   string
	}{
		{"a cross-site form (text/plain)", http.Header{"Content-Type": {"text/plain"}}, ""},
		{"a cross-site fetch", http.Header{"Content-Type": {"application/json"}, "Origin": {"https://evil.example"}}, ""},
		{"a DNS-rebinding page", http.Header{"Content-Type": {"application/json"}}, "evil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/triggerworker/projects/p/topics/jobs", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("answered %d, want 403", resp.StatusCode)
			}
		})
	}
}

// A browser opening the runner's address, or /_, found a 404 and no way
// to the inspector; a function's path is still never redirected.
func TestTheRunnersRootLeadsToTheInspector(t *testing.T) {
	h, _, err := routes(context.Background(), "http://localhost", router{"_": http.NotFoundHandler()}, nil)
	if err != nil {
		t.Fatalf("routes: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/", "/_"} {
		resp, err := client.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != inspector.Path {
			t.Errorf("GET %s: %d to %q, want 302 to %s", p, resp.StatusCode, resp.Header.Get("Location"), inspector.Path)
		}
	}
	if resp := post(t, srv, "/", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /: %d, want 404 (a provider is never redirected)", resp.StatusCode)
	}
}

// PORT=abc said "lookup tcp/abc"; a port in use gave no hint that PORT
// chooses another.
func TestPortProblemsNamePORT(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	tests := []struct{ name, port, want string }{
		{"not a number", "abc", `PORT="abc": want a port number`},
		{"out of range", "70000", `PORT="70000": want a port number`},
		{"in use", port, "is in use (another make run?): set PORT to a free one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := listen(func(k string) string { return map[string]string{"PORT": tt.port}[k] })
			if err == nil {
				l.Close()
				t.Fatalf("PORT=%s: listening", tt.port)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("PORT=%s: %v, want %q", tt.port, err, tt.want)
			}
		})
	}
}

// A replay from the inspector went out with the X-Forwarded-For entry the
// runner had added to the original, and the runner added its own again:
// the function saw two entries for one client.
func TestAReplayReachesTheFunctionWithOneForwardedEntry(t *testing.T) {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	insp, err := inspector.New(inspector.Options{Dir: t.TempDir(), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer insp.Close()
	var seen []string
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, strings.Join(r.Header.Values("X-Forwarded-For"), ", "))
	})
	srv := httptest.NewServer(insp.Record(frontEnd(router{"store": fn})))
	t.Cleanup(srv.Close)
	post(t, srv, "/store/github", nil)
	if _, err := insp.Replay(context.Background(), 1, false); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if len(seen) != 2 || seen[1] != seen[0] || strings.Contains(seen[1], ",") {
		t.Errorf("X-Forwarded-For of the delivery and its replay: %q, want the one client address both times", seen)
	}
}

// A problem every function shares (they all read LOG_LEVEL) was printed
// once per function, each time prefixed "Relay:", "Store:", ...: it is said
// once, and a function's own problem keeps its name.
func TestASharedStartUpProblemIsSaidOnce(t *testing.T) {
	shared := errors.New(`LOG_LEVEL="loud": want debug, info, warn or error`)
	err := joinFunctionErrors([]functionError{
		{"Relay", shared},
		{"Store", errors.Join(shared, errors.New("webhooks.yaml:3:9: store.sources[0].verify.scheme: unknown"))},
		{"Trigger", shared},
	})
	want := "LOG_LEVEL=\"loud\": want debug, info, warn or error\nStore: webhooks.yaml:3:9: store.sources[0].verify.scheme: unknown"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
}
