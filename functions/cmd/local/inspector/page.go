package inspector

import (
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudhooks/webhooks/shared/verify"
	"github.com/cloudhooks/webhooks/shared/verify/ipallow"
)

//go:embed page.html page.js
var assets embed.FS

var pageTemplate = template.Must(template.ParseFS(assets, "page.html"))

// ActionHeader must be on the page's POST requests. A cross-site form
// cannot set a header, and a cross-site fetch that sets one needs a CORS
// preflight that this handler never approves.
const ActionHeader = "X-Inspector-Action"

// longPoll is how long a list request waits for a new delivery.
const longPoll = 25 * time.Second

// mask is what the page shows for a credential's value.
const mask = "••••••••"

// Page returns the handler of everything under Path: the page, its
// script, the list (GET Path+"api/deliveries?after=VERSION" answers when
// the list's version is not VERSION: a delivery was added, or a job it
// queued ended; 204 after a while), a delivery as a curl
// command (GET Path+"api/deliveries/SEQ/curl") and the replays (POST
// Path+"api/deliveries/SEQ/replay" or ".../resign").
func (i *Inspector) Page() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path+"{$}", i.page)
	mux.HandleFunc("GET "+Path+"page.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFileFS(w, r, assets, "page.js")
	})
	mux.HandleFunc("GET "+Path+"api/deliveries", i.deliveries)
	mux.HandleFunc("GET "+Path+"api/deliveries/{seq}/curl", i.curl)
	mux.HandleFunc("POST "+Path+"api/deliveries/{seq}/{action}", i.action)
	return loopbackOnly(mux)
}

func (i *Inspector) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTemplate.Execute(w, struct{ Path, ActionHeader string }{Path, ActionHeader})
}

// list is the answer of the list request.
type list struct {
	Deliveries []Delivery `json:"deliveries"`
	// Unsaved counts the deliveries of this run not written to the file.
	Unsaved int `json:"unsaved"`
	// Version is the list's: the next list request's after.
	Version int64 `json:"version"`
}

func (i *Inspector) deliveries(w http.ResponseWriter, r *http.Request) {
	after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if err != nil {
		after = -1
	}
	timeout := time.NewTimer(longPoll)
	defer timeout.Stop()
	for {
		all, version, changed := i.snapshot()
		if version != after {
			i.mu.Lock()
			unsaved := i.unsaved
			i.mu.Unlock()
			writeJSON(w, http.StatusOK, list{Deliveries: i.shown(all), Unsaved: unsaved, Version: version})
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// shown copies the deliveries with their credentials masked: credential
// headers, and the query parameters that carry a signature (those that
// are the secret are masked in the record already).
func (i *Inspector) shown(all []*Delivery) []Delivery {
	out := make([]Delivery, len(all))
	for n, d := range all {
		out[n] = *d
		src, _ := sourceOf(i.opts.Config, d.Function, d.Source)
		secret, signature := verify.QueryCredentials(src.Verify)
		out[n].Target, _ = maskQuery(d.Target, append(secret, signature...))
		out[n].Headers = make([]Header, len(d.Headers))
		for k, h := range d.Headers {
			if h.Masked {
				h.Value = showValue(h)
			}
			out[n].Headers[k] = h
		}
	}
	return out
}

func (i *Inspector) curl(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	text, err := i.Curl(seq)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(text))
}

func (i *Inspector) action(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	action := r.PathValue("action")
	if err != nil || (action != "replay" && action != "resign") {
		http.NotFound(w, r)
		return
	}
	d, err := i.Replay(r.Context(), seq, action == "resign")
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, i.shown([]*Delivery{d})[0])
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// loopbackOnly refuses what does not come from this machine to this
// machine: a client address that is not loopback, a Host that is not a
// loopback name (a DNS-rebinding page reaches 127.0.0.1 under its own
// name), and a POST without ActionHeader or from another origin.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ipallow.FromThisMachine(r); err != nil {
			http.Error(w, "the inspector answers this machine only: "+err.Error(), http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost {
			origin := r.Header.Get("Origin")
			if r.Header.Get(ActionHeader) == "" || (origin != "" && !ipallow.SameOrigin(origin, r.Host)) {
				http.Error(w, "cross-site request refused", http.StatusForbidden)
				return
			}
		}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
