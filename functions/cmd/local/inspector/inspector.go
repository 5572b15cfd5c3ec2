// Package inspector is the local runner's window on its traffic: it
// records every delivery the runner serves (what came in, what the
// pipeline answered and logged, and what each job it queued did once run:
// Trigger's async rules on the in-process queue, jobs.go) and serves a
// page at /_/ that lists them,
// newest first and live, from which each can be replayed as received or
// re-signed with a fresh timestamp. The list is kept in
// <data>/inspector/deliveries.ndjson, so it survives a restart.
//
//	insp, err := inspector.New(inspector.Options{Dir: ".local/data/inspector", Config: cfg, Secrets: secrets.FromEnv()})
//	mux.Handle(inspector.Path, insp.Page())
//	srv.Handler = insp.Record(mux)
//
// The page answers loopback clients only, and only when addressed by a
// loopback name (a DNS-rebinding page cannot reach it); its actions need a
// header that a cross-site form cannot send.
package inspector

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/ndjson"
	"github.com/cloudhooks/webhooks/shared/strictjson"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// Path is where the page is mounted; requests under it are not recorded.
const Path = "/_/"

// Limits of what is kept.
const (
	// DefaultKeep is how many deliveries the page lists and the file
	// keeps: that many answered 2xx and that many refused or failed, each
	// the newest of its kind.
	DefaultKeep = 200
	// MaxBody is the most of a body kept; a longer one is shown cut and
	// cannot be replayed.
	MaxBody = 1 << 20
	// maxResponse is the most of a response body kept.
	maxResponse = 16 << 10
)

var b64 = base64.StdEncoding

// Options configure an Inspector.
type Options struct {
	// Dir is the folder of deliveries.ndjson (created on first write).
	Dir string
	// Config is the runner's configuration: each source's scheme says
	// which headers are credentials and how to re-sign.
	Config *config.File
	// Secrets resolves the sources' development keys, for re-signing.
	Secrets verify.SecretSource
	// Keep is how many deliveries are kept (DefaultKeep when zero).
	Keep int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Inspector records deliveries and serves the page.
type Inspector struct {
	opts Options
	file *ndjson.File
	next http.Handler // set by Record; replays go through it

	lines  chan *Delivery // to the writer
	done   chan struct{}  // closed when the writer has finished
	onDisk int            // lines in the file; the writer's

	mu sync.Mutex
	// list is oldest first, at most opts.Keep of each kind (trim). A
	// listed delivery is never changed: a job's outcome replaces it with
	// a copy (addJobs).
	list    []*Delivery
	seq     int64
	secrets map[int64]secretParts
	unsaved int           // deliveries (or their jobs' outcomes) not written down
	closed  bool          // lines is closed
	changed chan struct{} // closed and replaced on every change
	version int64         // grows on every change
}

// secretParts is what a delivery carried that is never written down: the
// values of headers that are the secret itself, a body whose token field
// was removed from the record, and a target whose secret query parameters
// were masked. Replays use them until the runner stops.
type secretParts struct {
	header http.Header
	body   []byte // nil unless the record's body lacks the token field
	target string // "" unless the record's target is masked
}

// New loads the deliveries kept in opts.Dir.
func New(opts Options) (*Inspector, error) {
	if opts.Keep <= 0 {
		opts.Keep = DefaultKeep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	i := &Inspector{
		opts:    opts,
		file:    ndjson.New(filepath.Join(opts.Dir, "deliveries.ndjson")),
		secrets: map[int64]secretParts{},
		changed: make(chan struct{}),
		lines:   make(chan *Delivery, queueLen),
		done:    make(chan struct{}),
		// Another run's versions do not repeat this one's: a page open
		// across a restart asks for the list again.
		version: opts.Now().UnixMicro(),
	}
	if err := i.load(); err != nil {
		return nil, fmt.Errorf("inspector: %w", err)
	}
	if i.onDisk > len(i.list)+opts.Keep {
		if err := i.compact(); err != nil {
			return nil, fmt.Errorf("inspector: compact: %w", err)
		}
	}
	go i.write()
	return i, nil
}

// Record returns next wrapped so that every request outside Path is
// recorded as a delivery (but the icon a browser asks for when it opens
// the page).
func (i *Inspector) Record(next http.Handler) http.Handler {
	i.next = next
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, Path) || r.URL.Path == "/favicon.ico" {
			next.ServeHTTP(w, r)
			return
		}
		i.serve(w, r, KindReceived, 0, "", nil)
	})
}

// serve passes r to the wrapped handler and records what happened;
// finish, when not nil, completes the record before it is listed.
func (i *Inspector) serve(w http.ResponseWriter, r *http.Request, kind string, of int64, note string, finish func(*Delivery, secretParts)) *Delivery {
	start := i.opts.Now()
	d := &Delivery{
		Time:   start.UTC(),
		Kind:   kind,
		Of:     of,
		Method: r.Method,
		Target: r.URL.RequestURI(),
		Host:   r.Host,
		Remote: r.RemoteAddr,
		Note:   note,
	}
	d.Function, d.Source = splitPath(r.URL.Path)
	src, _ := sourceOf(i.opts.Config, d.Function, d.Source)

	tp := &tap{i: i}
	ctx := logging.WithTap(r.Context(), tp.record)
	body := &capture{limit: MaxBody}
	var tee io.Reader = http.NoBody
	if r.Body != nil && r.Body != http.NoBody {
		tee = io.TeeReader(r.Body, body)
		r.Body = struct {
			io.Reader
			io.Closer
		}{tee, r.Body}
	}
	rw := &recorder{ResponseWriter: w, body: capture{limit: maxResponse}}
	i.next.ServeHTTP(rw, r.WithContext(ctx))
	// A request refused before its body was read (404, 405, 403) is still
	// shown with the body it came with, as far as the limit.
	_, _ = io.CopyN(io.Discard, tee, int64(MaxBody-body.buf.Len()+1))

	d.Status = rw.status
	if d.Status == 0 {
		d.Status = http.StatusOK
	}
	d.LatencyMS = float64(i.opts.Now().Sub(start).Microseconds()) / 1000
	d.Response = string(rw.body.buf.Bytes())
	raw := body.buf.Bytes()
	secret := secretParts{}
	if src.Verify.Field != "" && !body.cut {
		// The token scheme's payload field is the secret: the record
		// keeps the body without it.
		if cleaned, removed, err := strictjson.Remove(raw, strings.Split(src.Verify.Field, ".")); err == nil && removed {
			secret.body, raw = raw, cleaned
		}
	}
	d.setBody(raw, body.cut)
	if params, _ := verify.QueryCredentials(src.Verify); len(params) > 0 {
		if masked, names := maskQuery(d.Target, params); names != nil {
			secret.target, d.Target = d.Target, masked
		}
	}
	d.Headers = headers(r.Header, src.Verify)
	secret.header = secretValues(r.Header, d.Headers)
	records := tp.finish()
	d.observe(records, src.Verify.Scheme)
	if d.Reason == "" && d.Status >= 400 && len(records) == 0 {
		d.Reason = strings.TrimSpace(d.Response)
	}
	if finish != nil {
		finish(d, secret)
	}
	i.add(d, secret)
	tp.listed(d.Seq)
	return d
}

// secretValues picks the values of the headers kept without one.
func secretValues(h http.Header, kept []Header) http.Header {
	var out http.Header
	for _, hd := range kept {
		if hd.Secret {
			if out == nil {
				out = http.Header{}
			}
			out[hd.Name] = h[hd.Name]
		}
	}
	return out
}

// add numbers d, keeps it and queues it for the file.
func (i *Inspector) add(d *Delivery, secret secretParts) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.seq++
	d.Seq = i.seq
	i.list = append(i.list, d)
	if secret.header != nil || secret.body != nil || secret.target != "" {
		i.secrets[d.Seq] = secret
	}
	if kept, dropped := trim(i.list, i.opts.Keep); len(dropped) > 0 {
		for _, old := range dropped {
			delete(i.secrets, old.Seq)
		}
		i.list = kept
	}
	i.queue(d)
	i.notify()
}

// notify wakes the page's list requests; i.mu is held.
func (i *Inspector) notify() {
	i.version++
	close(i.changed)
	i.changed = make(chan struct{})
}

// failed reports whether d is kept among the failures: the pipeline did
// not answer 2xx (or 1xx, 3xx).
func failed(d *Delivery) bool { return d.Status >= 400 }

// trim keeps, of list (oldest first), the newest keep deliveries that
// succeeded and the newest keep that failed, so that a run of successes
// (a load run, Trigger's own calls to the runner) never pushes a failure
// out of the list, nor a run of failures a success.
func trim(list []*Delivery, keep int) (kept, dropped []*Delivery) {
	var ok, bad int
	for _, d := range list {
		if failed(d) {
			bad++
		} else {
			ok++
		}
	}
	if ok <= keep && bad <= keep {
		return list, nil
	}
	dropOK, dropBad := max(ok-keep, 0), max(bad-keep, 0)
	kept = make([]*Delivery, 0, len(list))
	for _, d := range list {
		switch {
		case failed(d) && dropBad > 0:
			dropBad--
			dropped = append(dropped, d)
		case !failed(d) && dropOK > 0:
			dropOK--
			dropped = append(dropped, d)
		default:
			kept = append(kept, d)
		}
	}
	return kept, dropped
}

// snapshot returns the deliveries newest first, the list's version and a
// channel closed at the next change.
func (i *Inspector) snapshot() ([]*Delivery, int64, <-chan struct{}) {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make([]*Delivery, len(i.list))
	for n, d := range i.list {
		out[len(out)-1-n] = d
	}
	return out, i.version, i.changed
}

// find returns the delivery seq and its secret parts.
func (i *Inspector) find(seq int64) (*Delivery, secretParts, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, d := range i.list {
		if d.Seq == seq {
			return d, i.secrets[seq], true
		}
	}
	return nil, secretParts{}, false
}

// capture keeps the first limit bytes written to it.
type capture struct {
	buf   bytes.Buffer
	limit int
	cut   bool
}

func (c *capture) Write(p []byte) (int, error) {
	room := c.limit - c.buf.Len()
	if room < len(p) {
		c.cut = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

// recorder notes the status and the start of the body of a response.
type recorder struct {
	http.ResponseWriter
	status int
	body   capture
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_, _ = r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
