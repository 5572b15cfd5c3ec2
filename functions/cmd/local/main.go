// Command local runs every function on one port with the embedded
// configuration and no Google Cloud account: `make run`.
//
//	http://localhost:8080/store/github    → the Store function's github source
//	http://localhost:8080/relay/stripe    → the Relay function's stripe source
//
// Secret Manager references (sm:NAME) are read from .local/secrets/NAME,
// created with a random development key on first run; Store writes
// newline-delimited JSON under .local/data unless BigQuery (or its
// emulator) is configured; Relay records the messages it would send; Trigger
// queues in process unless PUBSUB_EMULATOR_HOST is set (then the runner
// creates the topics and subscriptions on the emulator and serves the
// worker at /triggerworker). Send a signed test
// event with `go run ./functions/cmd/send store/github`, and watch it, and
// replay it, at http://localhost:8080/_/ (package inspector).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	_ "github.com/cloudhooks/webhooks" // registers every function
	"github.com/cloudhooks/webhooks/functions/cmd/local/inspector"
	"github.com/cloudhooks/webhooks/functions/trigger"
	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/secrets"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		log.Fatal(err)
	}
}

func realMain(ctx context.Context) error {
	setDefault("WEBHOOKS_SECRETS_DIR", filepath.Join(".local", "secrets"))
	setDefault("WEBHOOKS_DATA_DIR", filepath.Join(".local", "data"))
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("config.Load: %w", err)
	}
	if err := devSecrets(cfg, os.Getenv("WEBHOOKS_SECRETS_DIR")); err != nil {
		return fmt.Errorf("devSecrets: %w", err)
	}
	mux, urls, err := routes(ctx, "http://localhost:"+port())
	if err != nil {
		return err
	}
	insp, err := inspector.New(inspector.Options{Dir: filepath.Join(os.Getenv("WEBHOOKS_DATA_DIR"), "inspector"), Config: cfg, Secrets: secrets.Process()})
	if err != nil {
		return err
	}
	defer insp.Close()
	mux.Handle(inspector.Path, insp.Page())
	l, err := net.Listen("tcp", ":"+port())
	if err != nil {
		return fmt.Errorf("net.Listen: %w", err)
	}
	fmt.Printf("Serving %s\n%s\nSecrets: %s   Data: %s\n", strings.Join(pipeline.Registered(), ", "), strings.Join(urls, "\n"),
		os.Getenv("WEBHOOKS_SECRETS_DIR"), os.Getenv("WEBHOOKS_DATA_DIR"))
	fmt.Printf("Inspector: http://localhost:%s%s\n", port(), inspector.Path)
	srv := &http.Server{Handler: insp.Record(mux), ReadHeaderTimeout: 10 * time.Second}
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

// routes mounts each HTTP function under its lower-case name, the way each
// is its own service (and URL) when deployed.
func routes(ctx context.Context, base string) (*http.ServeMux, []string, error) {
	mux := http.NewServeMux()
	var urls []string
	for _, name := range pipeline.Registered() {
		h, err := pipeline.Lookup(ctx, name)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		prefix := "/" + strings.ToLower(name)
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
		sources := h.Sources()
		sort.Strings(sources)
		for _, s := range sources {
			urls = append(urls, fmt.Sprintf("  %-8s %s%s/%s", name, base, prefix, s))
		}
	}
	if os.Getenv("PUBSUB_EMULATOR_HOST") != "" {
		// With the emulator, async Trigger jobs go through Pub/Sub as
		// deployed: a push subscription delivers them to TriggerWorker.
		mux.Handle("/triggerworker/", http.StripPrefix("/triggerworker", trigger.PushHandler()))
		if err := trigger.SetUpEmulator(ctx, base+"/triggerworker"); err != nil {
			return nil, nil, err
		}
		urls = append(urls, fmt.Sprintf("  %-8s %s/triggerworker (Pub/Sub push from %s)", "Worker", base, os.Getenv("PUBSUB_EMULATOR_HOST")))
	}
	return mux, urls, nil
}

// devSecrets writes a random development key for every Secret Manager
// secret the configuration references and that has no local file yet.
func devSecrets(cfg *config.File, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, section := range []string{"store", "relay", "trigger"} {
		fn := cfg.Function(section)
		if fn == nil {
			continue
		}
		for _, src := range fn.Sources {
			for _, refText := range []string{src.Verify.Secret, src.Verify.HandshakeSecret} {
				ref, err := secrets.ParseRef(refText)
				if refText == "" || err != nil || ref.SecretID() == "" {
					continue
				}
				path := filepath.Join(dir, ref.SecretID())
				if _, err := os.Stat(path); err == nil {
					continue
				}
				if err := os.WriteFile(path, []byte(devKey(src.Verify.Scheme)+"\n"), 0o600); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// devKey makes a random key in the form the scheme's provider issues.
func devKey(scheme string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	switch scheme {
	case "standardwebhooks", "svix":
		return "whsec_" + base64.StdEncoding.EncodeToString(b)
	case "stripe":
		return "whsec_" + hex.EncodeToString(b)
	}
	return hex.EncodeToString(b)
}

func setDefault(key, value string) {
	if _, ok := os.LookupEnv(key); !ok {
		os.Setenv(key, value)
	}
}

func port() string {
	if p := os.Getenv("PORT"); p != "" {
		return p
	}
	return "8080"
}
