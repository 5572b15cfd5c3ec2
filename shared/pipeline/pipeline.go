// Package pipeline is the request path every webhook function shares:
//
//	request → source (by URL path) → method → body limit → handshake
//	        → verify (shared/verify) → decode → event.Event → Pattern
//
// A function (Store, Relay, Trigger) supplies only its Pattern, the work it
// does with a verified event; the pipeline reads every request once, the
// same way for every function (package pipelinetest runs one battery of
// malformed requests against all three), and owns everything HTTP: which
// statuses mean what (one table, answers), what is logged (one line per
// request), and when 2xx may be answered (only after the Pattern returned
// without error, that is after its work is durably done or queued).
//
// The files follow the request: pipeline.go the handler and its flow
// (serve), source.go a source built at start-up, body.go reading the body,
// envelope.go the event built from it, headers.go the headers an event
// keeps, reply.go the answer and the log line, status.go the table that
// maps an error to its status and refused_by.
//
//	h, err := pipeline.New(ctx, cfg.Function("store"), secrets, newStorePattern, opts)
//	http.Handle("/", h)
//
// Functions normally call Register from init instead, which also registers
// the function with the Functions Framework.
package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/verify"
	"github.com/cloudhooks/webhooks/shared/verify/handshake"
)

// Factory builds the Pattern of one source at start-up. It must not dial
// Google Cloud: clients are created on first use, because every instance
// runs every function package's init.
type Factory func(ctx context.Context, src config.Source) (pattern.Pattern, error)

// Handler serves every source of one function, one URL path each.
type Handler struct {
	opts    Options
	sources map[string]*source
}

// New builds the handler of one function from its configuration section.
// Every source's verifier and pattern are built here, so a bad scheme,
// option or rule stops start-up with an error naming the file, line and
// field ("webhooks.yaml:12:17: store.sources[1].verify.scheme: …").
func New(ctx context.Context, fn *config.Function, secrets verify.SecretSource, newPattern Factory, opts Options) (*Handler, error) {
	opts = opts.withDefaults()
	if opts.Function != "" {
		// Every line: the request line, and the verifiers' warnings.
		opts.Logger = opts.Logger.With(logging.FieldFunction, opts.Function)
	}
	h := &Handler{opts: opts, sources: map[string]*source{}}
	if fn == nil {
		return h, nil
	}
	var errs []error
	for i, sc := range fn.Sources {
		s, err := newSource(ctx, sc, secrets, newPattern, opts)
		if err != nil {
			errs = append(errs, fn.Located(i, err))
			continue
		}
		h.sources[sc.Name] = s
	}
	// Each message already names its file, line and field: a prefix would
	// only push that off the start of the line. A bad environment variable
	// fails every source that reads it: it is reported once.
	if err := config.JoinOnce(errs...); err != nil {
		return nil, err
	}
	return h, nil
}

// Sources returns the names of the sources h serves, which are also their
// URL paths.
func (h *Handler) Sources() []string {
	names := make([]string, 0, len(h.sources))
	for name := range h.sources {
		names = append(names, name)
	}
	return names
}

// request is what one request accumulates for its log line.
type request struct {
	source string
	ev     *event.Event
	bytes  int
	status int // what serve answered itself; 0 when it left that to finish
	result string
}

// ServeHTTP runs one request through the pipeline.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.opts.Now()
	rq := &request{}
	defer func() {
		if p := recover(); p != nil {
			h.opts.Logger.Error("panic serving webhook", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			h.finish(w, r, rq, start, errPanic)
		}
	}()
	err := h.serve(w, r, rq)
	h.finish(w, r, rq, start, err)
}

// serve does the work of a request; it writes only handshake and
// acknowledgement replies itself and leaves every other answer to finish.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rq *request) error {
	s := h.sources[strings.Trim(r.URL.Path, "/")]
	if s == nil {
		return ErrUnknownSource
	}
	rq.source = s.name
	if r.Method != http.MethodPost && len(s.early) == 0 && !s.lateGET {
		return ErrMethod
	}
	if !s.allow.Allowed(r) {
		return ErrForbiddenAddress
	}
	body, err := h.readBody(w, r)
	rq.bytes = len(body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if done, err := s.handshake(ctx, w, r, body, s.early, rq); done || err != nil {
		return err
	}
	if r.Method != http.MethodPost && (r.Method != http.MethodGet || !s.lateGET) {
		return ErrMethod
	}
	id, err := s.verifier.Verify(ctx, r, body)
	if err != nil {
		return err
	}
	if done, err := s.handshake(ctx, w, r, body, s.late, rq); done || err != nil {
		return err
	}
	if r.Method != http.MethodPost {
		return ErrMethod // a verified GET that was not the handshake
	}
	if id.Acknowledge {
		rq.status, rq.result = http.StatusOK, "acknowledged"
		writeJSON(w, rq.status, reply{Result: rq.result})
		return nil
	}
	ev, err := s.envelope(r, body, id, h.opts.Now())
	rq.ev = ev
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.Deadline)
	defer cancel()
	out, err := s.pattern.Handle(ctx, ev)
	if err != nil {
		return err
	}
	if out.Status == 0 {
		out.Status = http.StatusOK
	}
	rq.status, rq.result = out.Status, out.Result
	writeJSON(w, out.Status, reply{ID: ev.ID, Result: out.Result})
	return nil
}

// handshake answers r when it is one of the given ownership handshakes.
func (s *source) handshake(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, kinds []string, rq *request) (bool, error) {
	if len(kinds) == 0 {
		return false, nil
	}
	keys, err := s.verifier.HandshakeKeys(ctx)
	if err != nil {
		return false, err
	}
	for _, kind := range kinds {
		reply, err := handshake.Answer(kind, r, body, keys)
		if err != nil {
			return false, err
		}
		if reply == nil {
			continue
		}
		rq.status, rq.result = reply.Status, "handshake "+kind
		for k, v := range reply.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(reply.Status)
		_, _ = w.Write(reply.Body)
		return true, nil
	}
	return false, nil
}
