package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// everySource is a sources file with one source of every scheme the
// docs/verification.md lists and every handshake, and a Trigger rule whose http action
// signs with a secret that no source references.
const everySource = `
store:
  sources:
    - {name: github,  verify: {scheme: github, secret: sm:github-webhook-secret}}
    - {name: gitlab,  verify: {scheme: gitlab, secret: sm:gitlab-token}}
    - {name: stripe,  verify: {scheme: stripe, secret: sm:stripe-webhook-secret}}
    - {name: slack,   verify: {scheme: slack, secret: sm:slack-signing-secret, handshakes: [slack]}}
    - {name: zoom,    verify: {scheme: zoom, secret: sm:zoom-secret-token, handshakes: [zoom]}}
    - {name: clerk,   verify: {scheme: standardwebhooks, secret: sm:clerk-webhook-secret}}
    - {name: svix,    verify: {scheme: svix, secret: sm:svix-secret}}
    - {name: shopify, verify: {scheme: shopify, secret: sm:shopify-api-secret}}
    - {name: logto,   verify: {scheme: logto, secret: sm:logto-webhook-secret}}
    - {name: x,       verify: {scheme: twitter, secret: sm:x-consumer-secret, handshakes: [crc], allow_cidrs: [127.0.0.0/8, "::1/128"]}}
    - {name: twilio,  verify: {scheme: twilio, secret: sm:twilio-auth-token, url: "http://127.0.0.1:PORT/store/twilio"}}
    - {name: custom,  verify: {scheme: hmac, secret: sm:custom, header: X-Signature, algorithm: sha512, encoding: base64, prefix: "sha512="}}
    - {name: guide,   verify: {scheme: token, secret: sm:shared-token, handshakes: [challenge]}}
    - {name: inbody,  verify: {scheme: token, secret: sm:body-token, field: auth.token}}
    - {name: basic,   verify: {scheme: basic, secret: sm:basic-credentials}}
    - {name: pubsub,  verify: {scheme: oidc, email: pusher@example.iam.gserviceaccount.com, audience: https://example.com/pubsub}}
    - {name: meta,    verify: {scheme: github, secret: sm:meta-app-secret, handshakes: [meta], handshake_secret: sm:meta-verify-token}}
    - {name: open,    verify: {scheme: none, handshakes: [dropbox, graph], allow_cidrs: [127.0.0.0/8, "::1/128"]}}
    - {name: inbox,   verify: {scheme: none, allow_cidrs: [127.0.0.0/8, "::1/128"]}}
    - {name: discord, verify: {scheme: discord, secret: sm:discord-public-key, handshakes: [discord]}}
    - {name: sendgrid, verify: {scheme: sendgrid, secret: sm:sendgrid-verification-key}}
    - {name: twitch,  verify: {scheme: twitch, secret: sm:twitch-secret, handshakes: [twitch]}}
    - {name: v1a,     verify: {scheme: standardwebhooks, secret: sm:v1a-public-key}}
    - {name: sns,     verify: {scheme: aws-sns, secret: sm:sns-topics}}
    - {name: paypal,  verify: {scheme: paypal, secret: sm:paypal-webhook-id}}
    - {name: okta,    verify: {scheme: okta, secret: sm:okta-hook-secret, handshakes: [okta]}}
    - {name: azure,   verify: {scheme: azure-event-grid, handshakes: [eventgrid], allow_cidrs: [127.0.0.0/8, "::1/128"]}}
relay:
  sources:
    - name: stripe
      verify: {scheme: stripe, secret: sm:stripe-webhook-secret}
      rules:
        - name: paid
          events: [payment_intent.succeeded]
          to: {topic: payments}
          notification: {title: Paid, body: "{{.payload.data.object.amount}}"}
    - name: github
      verify: {scheme: github, secret: sm:github-webhook-secret}
      rules:
        - name: pushed
          events: [push]
          to: {topic: pushes}
          notification: {title: Pushed, body: "{{.payload.ref}}"}
trigger:
  sources:
    - name: github
      verify: {scheme: github, secret: sm:github-webhook-secret}
      rules:
        - name: forward
          events: [push]
          mode: sync
          actions:
            - name: post
              type: http
              url: http://localhost:PORT/store/inbox
              secret: sm:action-only-secret
              allow_private_network: true # the runner, on loopback
`

// The promise: with `make run` and `send`, as a user types them,
// every scheme and every handshake works, and the events land under
// .local/data. The runner and send are built and run as programs.
func TestEverySchemeWorksLocallyWithSend(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the local runner")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, cmd := range []string{"local", "send"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "github.com/cloudhooks/webhooks/functions/cmd/"+cmd)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", cmd, err, out)
		}
	}
	// Standard Webhooks v1a: the user brings the whpk_ public key their
	// sender shows; the local loop keeps the whsk_ private key beside it.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secretsDir := filepath.Join(dir, ".local", "secrets")
	for name, key := range map[string]string{"v1a-public-key": "whpk_" + base64.StdEncoding.EncodeToString(pub),
		"v1a-public-key" + verify.SigningSuffix: "whsk_" + base64.StdEncoding.EncodeToString(priv.Seed())} {
		if err := os.MkdirAll(secretsDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(secretsDir, name), []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	cfg := filepath.Join(dir, "webhooks.yaml")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(everySource, "PORT", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The runner's own defaults (.local/secrets, .local/data, no
	// emulators), as `make run` has them.
	env := append(unset(os.Environ(), "WEBHOOKS_SECRETS_DIR", "WEBHOOKS_DATA_DIR", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST",
		"BIGQUERY_EMULATOR_HOST", "BIGQUERY_STORAGE_EMULATOR_HOST"), "PORT="+port, "WEBHOOKS_CONFIG="+cfg, "RELAY_DRY_RUN=1")
	banner := startRunner(t, filepath.Join(bin, "local"), dir, env)

	send := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(bin, "send"), args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	tests := []struct {
		name    string
		args    []string
		want    []string // in send's output
		wantErr bool
	}{
		{"github", []string{"store/github"}, []string{"200 OK", `"result":"stored"`}, false},
		{"github ping is acknowledged", []string{"-type", "ping", "store/github"}, []string{`"result":"acknowledged"`}, false},
		{"gitlab", []string{"store/gitlab"}, []string{`"result":"stored"`}, false},
		{"stripe", []string{"store/stripe"}, []string{`"result":"stored"`}, false},
		{"stripe, another type", []string{"-type", "charge.refunded", "store/stripe"}, []string{`"result":"stored"`}, false},
		{"slack", []string{"store/slack"}, []string{`"result":"stored"`}, false},
		{"zoom", []string{"store/zoom"}, []string{`"result":"stored"`}, false},
		{"standard webhooks", []string{"store/clerk"}, []string{`"result":"stored"`}, false},
		{"svix", []string{"store/svix"}, []string{`"result":"stored"`}, false},
		{"shopify", []string{"store/shopify"}, []string{`"result":"stored"`}, false},
		{"logto", []string{"store/logto"}, []string{`"result":"stored"`}, false},
		{"twitter", []string{"store/x"}, []string{`"result":"stored"`}, false},
		{"twilio behind the runner's /store prefix", []string{"store/twilio"}, []string{`"result":"stored"`}, false},
		{"hmac", []string{"store/custom"}, []string{`"result":"stored"`}, false},
		{"token in a header", []string{"store/guide"}, []string{`"result":"stored"`}, false},
		{"token in the payload", []string{"store/inbody"}, []string{`"result":"stored"`}, false},
		{"basic", []string{"store/basic"}, []string{`"result":"stored"`}, false},
		{"none", []string{"store/open"}, []string{`"result":"stored"`}, false},
		{"oidc without a token says how to get one", []string{"store/pubsub"}, []string{"-bearer", "gcloud auth print-identity-token"}, true},
		{"oidc with a token that is not one is refused", []string{"-bearer", "not-a-jwt", "store/pubsub"}, []string{"401"}, true},
		{"the banner's URL", []string{firstURL(t, banner, "/store/github")}, []string{`"result":"stored"`}, false},
		{"relay", []string{"relay/stripe"}, []string{`"result":"sent"`}, false},
		{"relay again is a new event", []string{"relay/stripe"}, []string{`"result":"sent"`}, false},
		{"relay -repeat is a duplicate", []string{"-repeat", "relay/stripe"}, []string{`"result":"duplicate"`}, false},
		{"trigger runs the action with its own secret", []string{"trigger/github"}, []string{"200 OK"}, false},
		{"handshake slack", []string{"-handshake", "store/slack"}, []string{"handshake slack", "ok"}, false},
		{"handshake zoom", []string{"-handshake", "store/zoom"}, []string{"handshake zoom", "ok"}, false},
		{"handshake crc", []string{"-handshake", "store/x"}, []string{"handshake crc", "ok"}, false},
		{"handshake challenge", []string{"-handshake", "store/guide"}, []string{"handshake challenge", "ok"}, false},
		{"handshake meta", []string{"-handshake", "store/meta"}, []string{"handshake meta", "ok"}, false},
		{"handshakes dropbox and graph", []string{"-handshake", "store/open"}, []string{"handshake dropbox", "handshake graph"}, false},
		{"github's form content type, stored as the JSON one", []string{"-form", "store/github"}, []string{`"result":"stored"`}, false},
		{"github's form content type, relayed", []string{"-form", "relay/github"}, []string{`"result":"sent"`}, false},
		{"github's JSON, relayed", []string{"relay/github"}, []string{`"result":"sent"`}, false},
		{"github's form content type runs the action", []string{"-form", "trigger/github"}, []string{"200 OK"}, false},
		{"discord (Ed25519)", []string{"store/discord"}, []string{`"result":"stored"`}, false},
		{"handshake discord", []string{"-handshake", "store/discord"}, []string{"handshake discord", "ok"}, false},
		{"sendgrid (ECDSA P-256)", []string{"store/sendgrid"}, []string{`"result":"stored"`}, false},
		{"twitch", []string{"store/twitch"}, []string{`"result":"stored"`}, false},
		{"handshake twitch", []string{"-handshake", "store/twitch"}, []string{"handshake twitch", "ok"}, false},
		{"standard webhooks v1a (Ed25519)", []string{"store/v1a"}, []string{`"result":"stored"`}, false},
		{"amazon sns (a certificate fetched from SNS's host)", []string{"store/sns"}, []string{`"result":"stored"`}, false},
		{"handshake okta", []string{"-handshake", "store/okta"}, []string{"handshake okta", "ok"}, false},
		{"handshake eventgrid", []string{"-handshake", "store/azure"}, []string{"handshake eventgrid", "ok"}, false},
		{"paypal (a certificate fetched from PayPal's host)", []string{"store/paypal"}, []string{`"result":"stored"`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := send(tt.args...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("send %s: err %v, want error %v\n%s", strings.Join(tt.args, " "), err, tt.wantErr, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("send %s printed\n%s\nwant it to contain %q", strings.Join(tt.args, " "), out, w)
				}
			}
		})
	}

	// send run from a subfolder of the checkout, in a shell that set
	// neither WEBHOOKS_CONFIG nor PORT, finds the runner's sources file
	// and port (.local/runner.json): a source of that file, not of the
	// embedded defaults, is signed and stored.
	sub := filepath.Join(dir, "some", "folder")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	bare := exec.Command(filepath.Join(bin, "send"), "store/inbox")
	bare.Dir, bare.Env = sub, unset(env, "WEBHOOKS_CONFIG", "PORT")
	if out, err := bare.CombinedOutput(); err != nil || !strings.Contains(string(out), `"result":"stored"`) {
		t.Errorf("send from a subfolder without WEBHOOKS_CONFIG or PORT: %v\n%s", err, out)
	}

	// What landed under .local/data: one row per event stored, with the
	// id and type that the provider's headers or payload carry.
	rows := func(source string) []map[string]any {
		b, err := os.ReadFile(filepath.Join(dir, ".local", "data", "store", source+".ndjson"))
		if err != nil {
			t.Errorf("store/%s: %v", source, err)
			return nil
		}
		var out []map[string]any
		for line := range bytes.Lines(b) {
			var row map[string]any
			if err := json.Unmarshal(line, &row); err != nil {
				t.Fatalf("store/%s: %v", source, err)
			}
			out = append(out, row)
		}
		return out
	}
	wantRows := map[string]int{"github": 3, "gitlab": 1, "stripe": 2, "slack": 1, "zoom": 1, "clerk": 1, "svix": 1, "shopify": 1,
		"logto": 1, "x": 1, "twilio": 1, "custom": 1, "guide": 1, "inbody": 1, "basic": 1, "open": 1, "inbox": 3,
		"discord": 1, "sendgrid": 1, "twitch": 1, "v1a": 1, "sns": 1, "paypal": 1}
	for source, want := range wantRows {
		got := rows(source)
		if len(got) != want {
			t.Errorf("store/%s holds %d rows, want %d", source, len(got), want)
			continue
		}
		for _, row := range got {
			if row["event_id"] == "" || row["source"] != source {
				t.Errorf("store/%s row has source %v, event_id %v", source, row["source"], row["event_id"])
			}
		}
	}
	if types := []any{rows("stripe")[0]["event_type"], rows("stripe")[1]["event_type"]}; types[0] != "payment_intent.succeeded" || types[1] != "charge.refunded" {
		t.Errorf("store/stripe types %v, want the default sample then -type charge.refunded", types)
	}
	// GitHub's form content type: the same row as the JSON delivery, its
	// payload the JSON object, not the form's string.
	if gh := rows("github"); len(gh) == 3 {
		form := gh[2]
		payload, _ := form["payload"].(map[string]any)
		if form["event_type"] != "push" || payload["ref"] != "refs/heads/main" {
			t.Errorf("store/github form delivery stored as type %v payload %.80v, want push and the JSON object", form["event_type"], form["payload"])
		}
	}
	if got := rows("github")[0]["event_type"]; got != "push" {
		t.Errorf("store/github type %v, want push", got)
	}
	if inbody := rows("inbody"); len(inbody) == 1 && strings.Contains(fmt.Sprint(inbody[0]["payload"]), "token") {
		t.Errorf("store/inbody kept the token field in the payload: %v", inbody[0]["payload"])
	}
	relayed, err := os.ReadFile(filepath.Join(dir, ".local", "data", "relay", "messages.ndjson"))
	if n := bytes.Count(relayed, []byte("\n")); err != nil || n != 4 {
		t.Errorf("relay recorded %d messages (%v), want 4: one per new event, none for the duplicate", n, err)
	}
	if n := bytes.Count(relayed, []byte("refs/heads/main")); n != 2 {
		t.Errorf("relay/github: %d notifications carry the pushed ref, want 2 (JSON and form)", n)
	}

	// The development keys are in each scheme's own format, and the
	// action's secret exists although no source references it.
	for file, prefix := range map[string]string{"clerk-webhook-secret": "whsec_", "svix-secret": "whsec_", "stripe-webhook-secret": "whsec_",
		"action-only-secret": "whsec_", "meta-verify-token": ""} {
		b, err := os.ReadFile(filepath.Join(dir, ".local", "secrets", file))
		if err != nil || !strings.HasPrefix(string(b), prefix) {
			t.Errorf(".local/secrets/%s: %v, want a key starting %q", file, err, prefix)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, ".local", "secrets", "basic-credentials")); err != nil || !strings.Contains(string(b), ":") {
		t.Errorf(".local/secrets/basic-credentials: %v, want user:password", err)
	}
}

// startRunner starts the local runner in dir and returns its banner once
// it serves.
func startRunner(t *testing.T, path, dir string, env []string) string {
	t.Helper()
	banner, log := startRunnerLog(t, path, dir, env)
	go func() { // keep reading the request log, or the runner blocks on a full pipe
		for range log {
		}
	}()
	return banner
}

// startRunnerLog starts the local runner in dir and returns its banner
// once it serves, and the lines it writes to stdout from then on, which
// the caller must keep reading.
func startRunnerLog(t *testing.T, path, dir string, env []string) (string, <-chan string) {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Dir, cmd.Env = dir, env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("runner stderr:\n%s", stderr.String())
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var banner strings.Builder
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("runner exited before serving:\n%s%s", banner.String(), stderr.String())
			}
			banner.WriteString(line + "\n")
			if strings.HasPrefix(line, "Secrets:") {
				return banner.String(), lines
			}
		case <-deadline:
			t.Fatalf("runner did not start:\n%s%s", banner.String(), stderr.String())
		}
	}
}

// `make run`, as a user types it: a request the source's key refuses is
// logged as one readable line (LOG_FORMAT=text is the runner's default)
// that names the key file to check, .local/secrets/NAME, and not the key.
func TestALocalRefusalIsOneReadableLineNamingTheKeyFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the local runner")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "local")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cloudhooks/webhooks/functions/cmd/local").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port := freePort(t)
	env := append(unset(os.Environ(), "WEBHOOKS_SECRETS_DIR", "WEBHOOKS_DATA_DIR", "WEBHOOKS_CONFIG", "LOG_FORMAT", "LOG_LEVEL",
		"PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "BIGQUERY_EMULATOR_HOST", "BIGQUERY_STORAGE_EMULATOR_HOST"), "PORT="+port)
	_, log := startRunnerLog(t, bin, dir, env)
	const body = `{"ref":"refs/heads/main"}`
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+port+"/store/github", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "d-1")
	req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64)) // under no one's key
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong signature: %d, want 401", resp.StatusCode)
	}
	key, err := os.ReadFile(filepath.Join(dir, ".local", "secrets", "github-webhook-secret"))
	if err != nil || len(bytes.TrimSpace(key)) == 0 {
		t.Fatalf("the runner's development key: %v", err)
	}
	var line string
	for line == "" {
		select {
		case l, ok := <-log:
			if !ok {
				t.Fatal("the runner stopped before logging the request")
			}
			if strings.Contains(l, "webhook request") {
				line = l
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no request line in the runner's log")
		}
	}
	go func() {
		for range log {
		}
	}()
	if json.Valid([]byte(line)) {
		t.Errorf("the local request line is JSON, want text: %s", line)
	}
	for _, want := range []string{"WARN webhook request", "function=Store", "source=github", "status=401", "refused_by=signature",
		"key_file=" + filepath.Join(".local", "secrets", "github-webhook-secret")} {
		if !strings.Contains(line, want) {
			t.Errorf("the request line does not say %s: %s", want, line)
		}
	}
	if strings.Contains(line, string(bytes.TrimSpace(key))) {
		t.Errorf("the request line holds the key: %s", line)
	}
}

// firstURL returns the banner's URL that ends with suffix.
func firstURL(t *testing.T, banner, suffix string) string {
	for _, f := range strings.Fields(banner) {
		if strings.HasPrefix(f, "http://") && strings.HasSuffix(f, suffix) {
			return f
		}
	}
	t.Fatalf("banner has no URL ending %s:\n%s", suffix, banner)
	return ""
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// unset removes variables from an environment list, so the child's
// defaults apply.
func unset(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			keep = keep && name != n
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// A sources file with problems in several functions reports them all in
// one run: a file with 7 problems took 4 starts to show them.
func TestEveryProblemOfTheSourcesFileInOneRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the local runner")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "local")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cloudhooks/webhooks/functions/cmd/local").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "webhooks.yaml")
	bad := "store:\n  sources:\n    - {name: a, verify: {scheme: githib, secret: sm:a}}\n" +
		"relay:\n  sources:\n    - {name: b, verify: {scheme: stripe}}\n"
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(unset(os.Environ(), "WEBHOOKS_SECRETS_DIR", "WEBHOOKS_DATA_DIR"), "PORT=0", "WEBHOOKS_CONFIG="+cfg)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the runner started with a bad sources file:\n%s", out)
	}
	for _, want := range []string{"store.sources[0].verify.scheme", `did you mean "github"`, "relay.sources[0].verify.secret"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the runner's refusal does not name %q:\n%s", want, out)
		}
	}
}

// The banner listed every function, those without a source in the
// sources file too, which answer 404 to every path.
func TestTheBannerListsOnlyFunctionsWithSources(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the local runner")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "local")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cloudhooks/webhooks/functions/cmd/local").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "webhooks.yaml")
	if err := os.WriteFile(cfg, []byte("store:\n  sources:\n    - {name: github, verify: {scheme: github, secret: sm:gh}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(unset(os.Environ(), "WEBHOOKS_SECRETS_DIR", "WEBHOOKS_DATA_DIR", "PUBSUB_EMULATOR_HOST"), "PORT=0", "WEBHOOKS_CONFIG="+cfg)
	banner := startRunner(t, bin, dir, env)
	first, _, _ := strings.Cut(banner, "\n")
	if first != "Serving Store" {
		t.Errorf("the banner's first line is %q, want \"Serving Store\" (no Relay, no Trigger):\n%s", first, banner)
	}
	firstURL(t, banner, "/store/github")
}
