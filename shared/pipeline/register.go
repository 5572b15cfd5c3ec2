package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/secrets"
)

// registered holds every function registered in this process, for the
// local runner and tests, which serve them all side by side.
var (
	registryMu sync.Mutex
	registered = map[string]*lazyHandler{}
)

// Register registers the HTTP function name (its entry point, "Store")
// with the Functions Framework, serving the sources of the configuration
// section ("store") with the patterns newPattern builds.
//
// When this instance is deployed to serve name (FUNCTION_TARGET), the
// handler is built at once and a configuration error ends the process:
// the revision fails to start instead of answering webhooks wrongly. Every
// other instance runs this init too, so elsewhere the handler is built on
// first use.
func Register(name, section string, newPattern Factory) {
	l := &lazyHandler{name: name, section: section, newPattern: newPattern}
	registryMu.Lock()
	registered[name] = l
	registryMu.Unlock()
	functions.HTTP(name, l.ServeHTTP)
	if os.Getenv("FUNCTION_TARGET") == name {
		if _, err := l.handler(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "%s: start-up: %v\n", name, err)
			os.Exit(1)
		}
	}
}

// Registered returns the names of the functions registered in this
// process, sorted.
func Registered() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	names := make([]string, 0, len(registered))
	for name := range registered {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the handler of a registered function, building it if
// needed, and the names of its sources.
func Lookup(ctx context.Context, name string) (*Handler, error) {
	registryMu.Lock()
	l := registered[name]
	registryMu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("pipeline.Lookup: no function %q", name)
	}
	return l.handler(ctx)
}

// Serve serves r with the registered function name, exactly as the
// Functions Framework serves it by that name; an unregistered name is 404.
func Serve(name string, w http.ResponseWriter, r *http.Request) {
	registryMu.Lock()
	l := registered[name]
	registryMu.Unlock()
	if l == nil {
		http.NotFound(w, r)
		return
	}
	l.ServeHTTP(w, r)
}

// lazyHandler builds a function's handler once; a failed build is retried
// on the next request rather than leaving a broken handler forever.
type lazyHandler struct {
	name, section string
	newPattern    Factory

	mu sync.Mutex
	h  *Handler
}

func (l *lazyHandler) handler(ctx context.Context) (*Handler, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h != nil {
		return l.h, nil
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	opts, err := OptionsFromEnv(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	opts.Function = l.name
	h, err := New(ctx, cfg.Function(l.section), secrets.Process(), l.newPattern, opts)
	if err != nil {
		return nil, err
	}
	l.h = h
	return h, nil
}

// ServeHTTP serves a request once the handler is built, and answers 503
// (retry) while it cannot be.
func (l *lazyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := l.handler(r.Context())
	if err != nil {
		logging.FromEnv().Error("function setup failed", "function", l.name, "error", err.Error())
		w.Header().Set("Retry-After", "30")
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
