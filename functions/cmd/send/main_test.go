package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Sending to this machine signs with make run's development keys; any
// other URL is a deployment, whose secrets live in Secret Manager.
func TestLocalURLsSignWithTheDevelopmentKeys(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"", true},
		{"http://localhost:8080/store", true},
		{"http://127.0.0.1:18080/store", true},
		{"http://[::1]:8080/store", true},
		{"https://store-abc-ew.a.run.app", false},
		{"http://10.0.0.7:8080/store", false},
		{"://bad", false},
	}
	for _, tt := range tests {
		if got := isLocal(tt.url); got != tt.want {
			t.Errorf("isLocal(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

// The source's URL as make run prints it, -url given that same URL, PORT,
// and a deployed function's URL all name the one source.
func TestTargetsNameTheSourceHoweverTheUserWritesThem(t *testing.T) {
	tests := []struct {
		name, arg, base, port string
		want                  target
		wantErr               bool
	}{
		{"function/source on make run", "store/github", "", "", target{"store", "github", "http://localhost:8080/store/github"}, false},
		{"PORT is honoured", "store/github", "", "9090", target{"store", "github", "http://localhost:9090/store/github"}, false},
		{"the banner's URL", "http://localhost:8080/store/github", "", "", target{"store", "github", "http://localhost:8080/store/github"}, false},
		{"-url the function", "store/github", "https://store-abc-ew.a.run.app", "", target{"store", "github", "https://store-abc-ew.a.run.app/github"}, false},
		{"-url the banner's URL", "store/github", "http://localhost:8080/store/github", "", target{"store", "github", "http://localhost:8080/store/github"}, false},
		{"-url the deployed source", "store/github", "https://store-abc-ew.a.run.app/github", "", target{"store", "github", "https://store-abc-ew.a.run.app/github"}, false},
		{"a deployed source's URL", "https://relay-abc-ew.a.run.app/stripe", "", "", target{"relay", "stripe", "https://relay-abc-ew.a.run.app/stripe"}, false},
		{"a URL that names no function", "https://hooks.example.com/stripe", "", "", target{}, true},
		{"no source", "store", "", "", target{}, true},
		{"too many parts", "store/github/x", "", "", target{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTarget(tt.arg, tt.base, tt.port)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseTarget(%q, %q, %q) = %+v, %v; want %+v, error %v", tt.arg, tt.base, tt.port, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// Mistakes are refused before anything is sent, each saying what would
// be right; -h is help, not a failure.
func TestUsageMistakesAreRefusedWithTheFix(t *testing.T) {
	t.Setenv("WEBHOOKS_SECRETS_DIR", t.TempDir())
	tests := []struct {
		name string
		args []string
		want string // "" : success
	}{
		{"help exits 0", []string{"-h"}, ""},
		{"zero requests", []string{"-n", "0", "store/github"}, "-n 0: want 1 or more"},
		{"zero concurrency", []string{"-c", "0", "-n", "5", "store/github"}, "-c 0: want 1 or more"},
		{"negative size", []string{"-size", "-1", "store/github"}, "-size -1"},
		{"unknown source lists the known ones", []string{"store/githib"}, `store has no source "githib" (there are: github, stripe, standard)`},
		{"unknown function lists the known ones", []string{"stor/github"}, `no function "stor" in the configuration (there are: store, relay, trigger)`},
		{"a type without a sample is refused", []string{"-type", "charge.captured", "store/stripe"}, `-type "charge.captured": no stripe sample of that type (there are: payment_intent.succeeded`},
		{"-repeat and -id together", []string{"-repeat", "-id", "x", "store/github"}, "use one"},
		{"a misspelt type is corrected", []string{"-type", "payment_intent.succeded", "store/stripe"}, `did you mean "payment_intent.succeeded"?`},
		{"a flag after the target is a flag", []string{"store/stripe", "-type", "payment_intent.succeded"}, `did you mean "payment_intent.succeeded"?`},
		{"two targets", []string{"store/stripe", "store/github"}, "want one FUNCTION/SOURCE or URL"},
		{"a content type send cannot check", []string{"-content-type", "text/xml", "-payload", "main_test.go", "store/github"}, `-content-type "text/xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := realMain(context.Background(), tt.args, &out)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("send %v: %v", tt.args, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("send %v: error %v, want one containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// Every sample is a well-formed payload of the type it is listed under,
// wherever the payload itself names its type, and takes the event id.
func TestSamplesAreTheTypesTheyAreListedAs(t *testing.T) {
	for provider, list := range catalogue {
		for _, s := range list {
			b, err := samples.ReadFile("samples/" + provider + "/" + s.file)
			if err != nil {
				t.Errorf("%s %s: %v", provider, s.typ, err)
				continue
			}
			b = render(b, "abc123")
			if s.contentType() != "application/json" {
				if _, err := url.ParseQuery(string(b)); err != nil {
					t.Errorf("%s %s: not a form: %v", provider, s.typ, err)
				}
				continue
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(b, &top); err != nil {
				t.Errorf("%s %s: %v", provider, s.typ, err)
				continue
			}
			var named string
			for _, field := range []string{"type", "event"} {
				if named == "" {
					_ = json.Unmarshal(top[field], &named) // Slack's event is an object: not a type
				}
			}
			if named != "" && named != s.typ {
				t.Errorf("%s sample %s says its type is %q", provider, s.file, named)
			}
		}
	}
	entries, _ := fs.Glob(samples, "samples/*/*")
	listed := 0
	for _, list := range catalogue {
		listed += len(list)
	}
	if len(entries) != listed {
		t.Errorf("%d sample files, %d listed in the catalogue: list every file", len(entries), listed)
	}
}

// -repeat is a provider's retry: the same bytes under the same headers.
// It resent the id with a fresh default sample, so a repeated
// pull_request arrived as a push under the same delivery id.
func TestRepeatResendsTheSameBytes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll(filepath.Join(".local", "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(".local", "secrets", "gh"), []byte("repeat-test-key-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("webhooks.yaml", []byte("store:\n  sources:\n    - {name: github, verify: {scheme: github, secret: sm:gh}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WEBHOOKS_CONFIG", filepath.Join(dir, "webhooks.yaml"))
	t.Setenv("WEBHOOKS_SECRETS_DIR", filepath.Join(dir, ".local", "secrets"))
	type got struct {
		body          []byte
		event, sig    string
		delivery, typ string
	}
	var seen []got
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, got{b, r.Header.Get("X-GitHub-Event"), r.Header.Get("X-Hub-Signature-256"), r.Header.Get("X-GitHub-Delivery"), r.Header.Get("Content-Type")})
		w.Write([]byte(`{"result":"stored"}`))
	}))
	defer srv.Close()
	for _, args := range [][]string{{"-type", "pull_request", srv.URL + "/store/github"}, {"-repeat", srv.URL + "/store/github"}} {
		var out bytes.Buffer
		if err := realMain(context.Background(), args, &out); err != nil {
			t.Fatalf("send %v: %v\n%s", args, err, out.String())
		}
	}
	if len(seen) != 2 {
		t.Fatalf("the receiver saw %d requests, want 2", len(seen))
	}
	first, again := seen[0], seen[1]
	if !bytes.Equal(first.body, again.body) || first.event != again.event || first.delivery != again.delivery ||
		first.sig != again.sig || first.typ != again.typ {
		t.Errorf("-repeat sent event %q delivery %q (%d bytes), the first %q %q (%d bytes): want the same request",
			again.event, again.delivery, len(again.body), first.event, first.delivery, len(first.body))
	}
}

// githubReceiver configures one github source with a key, and serves a
// receiver that records each request's body, content type and event type.
func githubReceiver(t *testing.T) (url string, seen *[][3]string) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll(filepath.Join(".local", "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(".local", "secrets", "gh"), []byte("receiver-test-key-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("webhooks.yaml", []byte("store:\n  sources:\n    - {name: github, verify: {scheme: github, secret: sm:gh}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WEBHOOKS_CONFIG", filepath.Join(dir, "webhooks.yaml"))
	t.Setenv("WEBHOOKS_SECRETS_DIR", filepath.Join(dir, ".local", "secrets"))
	seen = new([][3]string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*seen = append(*seen, [3]string{string(b), r.Header.Get("Content-Type"), r.Header.Get("X-GitHub-Event")})
		w.Write([]byte(`{"result":"stored"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/store/github", seen
}

// `send store/github -type pull_request` printed the whole usage: the flag
// package stops at the first argument that is not a flag.
func TestFlagsAfterTheTargetAreFlags(t *testing.T) {
	target, seen := githubReceiver(t)
	var out bytes.Buffer
	if err := realMain(context.Background(), []string{target, "-type", "pull_request"}, &out); err != nil {
		t.Fatalf("send %s -type pull_request: %v\n%s", target, err, out.String())
	}
	if len(*seen) != 1 || (*seen)[0][2] != "pull_request" {
		t.Errorf("the receiver saw %q, want one pull_request", *seen)
	}
}

// A -payload file that was not JSON went out as a form, silently: a JSON
// file with a typo reached the function as a form it refused. It is sent
// as a form only when -content-type says so and it parses as one.
func TestAPayloadIsSentAsTheTypeItIsSaidToBe(t *testing.T) {
	target, seen := githubReceiver(t)
	if err := os.WriteFile("typo.json", []byte(`{"ref": "refs/heads/main",}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("event.form", []byte("payload=%7B%22ref%22%3A%22main%22%7D"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("bad.form", []byte("a=%zz"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantErr  string
		wantType string
	}{
		{"JSON with a typo is refused", []string{"-payload", "typo.json", target}, "-payload typo.json is not JSON; for a form, say so with -content-type application/x-www-form-urlencoded", ""},
		{"a form said to be one is sent as a form", []string{"-payload", "event.form", "-content-type", formType, target}, "", formType},
		{"a form not said to be one is refused", []string{"-payload", "event.form", target}, "is not JSON", ""},
		{"a form that does not parse is refused", []string{"-payload", "bad.form", "-content-type", formType, target}, "is not a form", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*seen = nil
			var out bytes.Buffer
			err := realMain(context.Background(), tt.args, &out)
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("send %v: %v, want an error containing %q", tt.args, err, tt.wantErr)
			case tt.wantErr != "" && len(*seen) != 0:
				t.Fatalf("send %v sent %q before refusing", tt.args, *seen)
			case tt.wantErr == "" && err != nil:
				t.Fatalf("send %v: %v", tt.args, err)
			case tt.wantErr == "" && (len(*seen) != 1 || (*seen)[0][1] != tt.wantType):
				t.Fatalf("send %v: the receiver saw %q, want one %s", tt.args, *seen, tt.wantType)
			}
		})
	}
}
