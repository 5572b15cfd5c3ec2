package pipeline

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudhooks/webhooks/shared/logging"
)

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
		a := answerTo(err)
		if a.refusedBy != "" {
			attrs = append(attrs, slog.String("refused_by", a.refusedBy))
		}
		if file := h.keyFile(rq.source, a.key); file != "" {
			attrs = append(attrs, slog.String("key_file", file))
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

// keyFile is the file that the named source's key was read from in local
// mode, "" when deployed or when the key is no Secret Manager reference:
// its path, never its value.
func (h *Handler) keyFile(source string, k key) string {
	s := h.sources[source]
	switch {
	case s == nil:
		return ""
	case k == signingKey:
		return s.keyFile
	case k == handshakeKey:
		return s.handshakeKeyFile
	}
	return ""
}
