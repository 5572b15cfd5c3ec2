// Package fcmtest is a local Firebase Cloud Messaging HTTP v1 server for
// tests and benchmarks: FCM has no emulator. It speaks HTTP/2 over TLS
// like fcm.googleapis.com, and the real firebase-admin-go messaging client
// reaches it through option.WithEndpoint:
//
//	srv := fcmtest.NewServer("my-project")
//	defer srv.Close()
//	client, err := srv.Messaging(ctx) // a *messaging.Client of the real SDK
//	id, err := client.Send(ctx, &messaging.Message{Topic: "news", ...})
//	srv.Sent()        // what it accepted, decoded
//	srv.Connections() // TCP connections it accepted (HTTP/2 reuses one)
//
// It answers POST /v1/projects/{project}/messages:send with
// {"name":"projects/{project}/messages/N"}, checks the bearer token and
// that a message has exactly one target, and answers failures in FCM's
// error format, with the FcmError detail that messaging.IsUnregistered and
// friends read. Fail injects failures; SetLatency slows every answer.
package fcmtest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/net/http2"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"
)

// AccessToken is the bearer token the server accepts and the clients from
// Messaging present.
const AccessToken = "fcmtest-access-token"

// Received is one request the server answered.
type Received struct {
	// Project is the project of the request's path.
	Project string
	// Message is the request's message, decoded by the SDK's own
	// UnmarshalJSON.
	Message messaging.Message
	// Raw is the message's JSON as sent.
	Raw json.RawMessage
	// ValidateOnly is set for SDK dry runs.
	ValidateOnly bool
	// Name is the message name answered, empty when the request failed.
	Name string
	// Proto is the HTTP protocol of the request ("HTTP/2.0").
	Proto string
}

// Failure is an error answer, in FCM's format.
type Failure struct {
	// HTTPStatus is the HTTP status code (404, 400, 503, ...).
	HTTPStatus int
	// Status is the Google RPC status ("NOT_FOUND", "UNAVAILABLE").
	Status string
	// ErrorCode is the FcmError detail ("UNREGISTERED", "QUOTA_EXCEEDED");
	// empty for none.
	ErrorCode string
	// RetryAfter is the Retry-After header value, empty for none.
	RetryAfter string
}

// FCM's documented failures.
var (
	Unregistered    = &Failure{HTTPStatus: 404, Status: "NOT_FOUND", ErrorCode: "UNREGISTERED"}
	InvalidArgument = &Failure{HTTPStatus: 400, Status: "INVALID_ARGUMENT", ErrorCode: "INVALID_ARGUMENT"}
	SenderMismatch  = &Failure{HTTPStatus: 403, Status: "PERMISSION_DENIED", ErrorCode: "SENDER_ID_MISMATCH"}
	Internal        = &Failure{HTTPStatus: 500, Status: "INTERNAL", ErrorCode: "INTERNAL"}
	ThirdPartyAuth  = &Failure{HTTPStatus: 401, Status: "UNAUTHENTICATED", ErrorCode: "THIRD_PARTY_AUTH_ERROR"}
)

// Unavailable is FCM's overload answer. firebase-admin-go retries 503s
// itself, waiting Retry-After, unless it exceeds two minutes: a
// RetryAfter above "120" reaches the caller at once.
func Unavailable(retryAfter string) *Failure {
	return &Failure{HTTPStatus: 503, Status: "UNAVAILABLE", ErrorCode: "UNAVAILABLE", RetryAfter: retryAfter}
}

// QuotaExceeded is FCM's rate limit answer (429, not retried by the SDK).
func QuotaExceeded(retryAfter string) *Failure {
	return &Failure{HTTPStatus: 429, Status: "RESOURCE_EXHAUSTED", ErrorCode: "QUOTA_EXCEEDED", RetryAfter: retryAfter}
}

// Server is a running FCM v1 server.
type Server struct {
	// URL is the server's base URL; the messaging endpoint is URL+"/v1".
	URL string
	// Project is the project it serves; other projects get 404.
	Project string

	srv      *httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
	seq      atomic.Int64
	latency  atomic.Int64 // nanoseconds

	mu       sync.Mutex
	received []Received
	fail     func(Received) *Failure
}

// NewServer starts a server for project. Close it when done.
func NewServer(project string) *Server {
	s := &Server{Project: project}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.EnableHTTP2 = true
	// HTTP/2 from golang.org/x/net rather than net/http's own copy, which
	// the deployed build leaves out (nethttpomithttp2, terraform/source.tf):
	// the server speaks HTTP/2 in that build too.
	if err := http2.ConfigureServer(s.srv.Config, nil); err != nil {
		panic(fmt.Sprintf("fcmtest: http2.ConfigureServer: %v", err))
	}
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.StartTLS()
	s.URL = s.srv.URL
	return s
}

// Certificate is the certificate the server presents, for a client that
// trusts it through the system roots (SSL_CERT_FILE).
func (s *Server) Certificate() *x509.Certificate { return s.srv.Certificate() }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// HTTPClient returns an HTTP/2 client that trusts the server's certificate
// and presents AccessToken.
func (s *Server) HTTPClient() *http.Client {
	base := s.srv.Client()
	return &http.Client{Transport: &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: AccessToken}),
		Base:   base.Transport,
	}}
}

// Messaging returns the real SDK's messaging client, pointed at s.
func (s *Server) Messaging(ctx context.Context) (*messaging.Client, error) {
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: s.Project},
		option.WithEndpoint(s.URL+"/v1"),
		option.WithHTTPClient(s.HTTPClient()),
	)
	if err != nil {
		return nil, fmt.Errorf("fcmtest: firebase.NewApp: %w", err)
	}
	c, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("fcmtest: app.Messaging: %w", err)
	}
	return c, nil
}

// Fail makes the server answer a request with the failure f returns for
// it, or normally when f returns nil. Fail(nil) restores normal answers.
func (s *Server) Fail(f func(Received) *Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = f
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Received returns every well-formed request answered so far, failed ones
// included.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Sent returns the messages accepted (answered with a name).
func (s *Server) Sent() []Received {
	var out []Received
	for _, r := range s.Received() {
		if r.Name != "" {
			out = append(out, r)
		}
	}
	return out
}

// Requests counts every HTTP request, malformed ones included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Connections counts the TCP connections the server accepted.
func (s *Server) Connections() int64 { return s.conns.Load() }

// Reset forgets what was received and counted.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = nil
	s.requests.Store(0)
	s.conns.Store(0)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if d := time.Duration(s.latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if r.Header.Get("Authorization") != "Bearer "+AccessToken {
		writeError(w, &Failure{HTTPStatus: 401, Status: "UNAUTHENTICATED"}, "Request had invalid authentication credentials.")
		return
	}
	project, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/")
	project, ok2 := strings.CutSuffix(project, "/messages:send")
	if r.Method != http.MethodPost || !ok || !ok2 || project != s.Project {
		writeError(w, &Failure{HTTPStatus: 404, Status: "NOT_FOUND"}, "Requested entity was not found.")
		return
	}
	var req struct {
		ValidateOnly bool            `json:"validate_only"`
		Message      json.RawMessage `json:"message"`
	}
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	rec := Received{Project: project, Raw: req.Message, ValidateOnly: req.ValidateOnly, Proto: r.Proto}
	if err == nil {
		err = json.Unmarshal(req.Message, &rec.Message)
	}
	if err != nil {
		writeError(w, &Failure{HTTPStatus: 400, Status: "INVALID_ARGUMENT"}, "Invalid JSON payload received.")
		return
	}
	targets := 0
	for _, t := range []string{rec.Message.Token, rec.Message.Topic, rec.Message.Condition} {
		if t != "" {
			targets++
		}
	}
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	var f *Failure
	switch {
	case targets != 1:
		f = InvalidArgument
	case fail != nil:
		f = fail(rec)
	}
	if f == nil {
		rec.Name = fmt.Sprintf("projects/%s/messages/%d", project, s.seq.Add(1))
	}
	s.mu.Lock()
	s.received = append(s.received, rec)
	s.mu.Unlock()
	if f != nil {
		writeError(w, f, "fcmtest injected "+f.Status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]string{"name": rec.Name})
}

// writeError answers f in the Google API error format with FCM's detail.
func writeError(w http.ResponseWriter, f *Failure, message string) {
	type detail struct {
		Type      string `json:"@type"`
		ErrorCode string `json:"errorCode"`
	}
	var body struct {
		Error struct {
			Code    int      `json:"code"`
			Message string   `json:"message"`
			Status  string   `json:"status"`
			Details []detail `json:"details,omitempty"`
		} `json:"error"`
	}
	body.Error.Code = f.HTTPStatus
	body.Error.Message = message
	body.Error.Status = f.Status
	if f.ErrorCode != "" {
		body.Error.Details = []detail{{Type: "type.googleapis.com/google.firebase.fcm.v1.FcmError", ErrorCode: f.ErrorCode}}
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(f.HTTPStatus)
	_ = json.NewEncoder(w).Encode(body)
}
