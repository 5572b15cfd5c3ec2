// Command send is the providers' "send test event" button: it signs a sample
// payload the way the source's provider would and POSTs it to a function,
// local or deployed.
//
//	go run ./functions/cmd/send store/github                  # to `make run`
//	go run ./functions/cmd/send -url https://store-….run.app store/github
//	go run ./functions/cmd/send -payload my.json relay/stripe
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
	"embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/verify"
)

//go:embed samples/*.json
var samples embed.FS

func main() {
	if err := realMain(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "replay" {
		return replay(ctx, args[1:], out)
	}
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	base := fs.String("url", "", "function URL (default http://localhost:8080/FUNCTION, the local runner)")
	payloadFile := fs.String("payload", "", "JSON payload to send (default: a sample for the source's scheme)")
	eventType := fs.String("type", "", "event type header for schemes that carry one (default: the sample's)")
	n := fs.Int("n", 1, "requests to send; more than one is a load run that prints throughput and latency")
	c := fs.Int("c", 80, "concurrent requests of a load run (Cloud Run's default concurrency per instance)")
	size := fs.Int("size", 0, "pad the payload to this many bytes (load runs with large bodies)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: send [flags] FUNCTION/SOURCE   e.g. send store/github\n       send replay [-project P] [-subscription S] [-topic T] [-max N]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want one FUNCTION/SOURCE")
	}
	function, name, _ := strings.Cut(fs.Arg(0), "/")
	if _, ok := os.LookupEnv("WEBHOOKS_SECRETS_DIR"); !ok && isLocal(*base) {
		os.Setenv("WEBHOOKS_SECRETS_DIR", filepath.Join(".local", "secrets"))
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	src, err := findSource(cfg, function, name)
	if err != nil {
		return err
	}
	body, defaultType, err := payload(*payloadFile, src.Verify.Scheme)
	if err != nil {
		return err
	}
	if *eventType == "" {
		*eventType = defaultType
	}
	if body, err = pad(body, *size); err != nil {
		return err
	}
	if *base == "" {
		*base = "http://localhost:8080/" + function
	}
	url := strings.TrimSuffix(*base, "/") + "/" + name
	var key []byte
	if src.Verify.Scheme != verify.SchemeNone {
		value, err := secrets.FromEnv().Secret(ctx, src.Verify.Secret)
		if err != nil {
			return fmt.Errorf("secret of %s: %w", fs.Arg(0), err)
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(value)), "\n")
		key = []byte(strings.TrimSpace(first))
	}
	s := &sender{url: url, src: src, key: key, body: body, eventType: *eventType}
	if *n > 1 {
		return s.load(ctx, *n, *c, out)
	}
	status, answer, err := s.send(ctx, http.DefaultClient)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "POST %s → %d %s\n%s", url, status, http.StatusText(status), answer)
	if status >= 300 {
		return fmt.Errorf("%s answered %d", url, status)
	}
	return nil
}

// sender signs and posts one source's payload.
type sender struct {
	url       string
	src       config.Source
	key, body []byte
	eventType string
}

// send posts one freshly signed request (new delivery id, new timestamp).
func (s *sender) send(ctx context.Context, client *http.Client) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cloudhooks-send/1")
	providerHeaders(req, s.src.Verify.Scheme, s.eventType)
	if s.key != nil {
		if err := verify.Sign(s.src.Verify, s.key, time.Now(), req, s.body); err != nil {
			return 0, nil, fmt.Errorf("verify.Sign: %w", err)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, answer, nil
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
		return config.Source{}, fmt.Errorf("no function %q in the configuration (store, relay, trigger)", function)
	}
	for _, s := range fn.Sources {
		if s.Name == name {
			return s, nil
		}
	}
	return config.Source{}, fmt.Errorf("function %q has no source %q", function, name)
}

// payload returns the body to send and the event type it represents.
func payload(file, scheme string) ([]byte, string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		return b, "", err
	}
	name, typ := "standard-webhook.json", "user.registered"
	switch scheme {
	case "github", "gitlab":
		name, typ = "github-push.json", "push"
	case "stripe":
		name, typ = "stripe-event.json", "payment_intent.succeeded"
	}
	b, err := samples.ReadFile("samples/" + name)
	return b, typ, err
}

// providerHeaders sets the delivery id and event type headers the
// provider sends beside its signature.
func providerHeaders(req *http.Request, scheme, eventType string) {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	delivery := hex.EncodeToString(id)
	switch scheme {
	case "github":
		req.Header.Set("X-GitHub-Event", eventType)
		req.Header.Set("X-GitHub-Delivery", delivery)
	case "gitlab":
		req.Header.Set("X-Gitlab-Event", eventType)
		req.Header.Set("X-Gitlab-Event-UUID", delivery)
	case "shopify":
		req.Header.Set("X-Shopify-Topic", eventType)
		req.Header.Set("X-Shopify-Webhook-Id", delivery)
	case "standardwebhooks", "svix":
		req.Header.Set("webhook-id", "msg_"+delivery)
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
