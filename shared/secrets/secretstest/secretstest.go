// Package secretstest is an in-process fake of Google Secret Manager for
// tests: a gRPC server on 127.0.0.1 that answers AccessSecretVersion the way
// the real service does, reached by the real client library.
//
// Google ships no Secret Manager emulator, so tests that prove how secrets
// are read (package secrets) or used (verify, pipeline) start this server,
// store values with Add and get a real *secretmanager.Client from Client:
//
//	srv := secretstest.Start(t)
//	srv.Add("my-project", "github-secret", []byte("s3cret"))
//	r := secrets.NewResolver(secrets.Options{Project: "my-project", Client: srv.Client(t)})
//	value, err := r.Secret(ctx, "sm:github-secret")
//
// Fail and Heal inject an outage that answers an error, Hang one that never
// answers until released, Stop one where nothing listens; Calls counts
// AccessSecretVersion requests so a test can prove that a cache answered
// without an RPC.
package secretstest

import (
	"context"
	"fmt"
	"hash/crc32"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Server is a running fake Secret Manager. Its methods are safe for
// concurrent use. Only AccessSecretVersion is implemented; every other RPC
// answers UNIMPLEMENTED.
type Server struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	// Addr is the host:port the server listens on.
	Addr string

	grpc *grpc.Server

	mu      sync.Mutex
	secrets map[string][][]byte // "projects/P/secrets/S" → versions, version n at index n-1
	fail    codes.Code          // codes.OK while healthy
	hang    chan struct{}       // non-nil: calls block until it is closed
	calls   int
}

// Start starts a fake server on 127.0.0.1:0 and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("secretstest.Start: listen: %v", err)
	}
	s := &Server{Addr: l.Addr().String(), secrets: map[string][][]byte{}, grpc: grpc.NewServer()}
	secretmanagerpb.RegisterSecretManagerServiceServer(s.grpc, s)
	go s.grpc.Serve(l) //nolint:errcheck // Serve returns once Stop is called.
	t.Cleanup(s.grpc.Stop)
	return s
}

// Stop makes the server unreachable, as Secret Manager is from an instance
// whose network path to it is down: connections are closed and new ones
// refused. Calls in progress end with an error.
func (s *Server) Stop() { s.grpc.Stop() }

// Add stores value as the next version of secret in project, creating the
// secret on first use, and returns the new version number (1, 2, ...). The
// value is copied.
func (s *Server) Add(project, secret string, value []byte) (version int) {
	name := "projects/" + project + "/secrets/" + secret
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[name] = append(s.secrets[name], append([]byte(nil), value...))
	return len(s.secrets[name])
}

// Fail makes every following AccessSecretVersion call answer code, as
// Secret Manager does during an outage (codes.Unavailable) or after a
// permission change (codes.PermissionDenied), until Heal.
func (s *Server) Fail(code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = code
}

// Heal ends an outage started by Fail.
func (s *Server) Heal() { s.Fail(codes.OK) }

// Hang makes every following AccessSecretVersion call block, as calls do
// when Secret Manager accepts connections but does not answer, until
// release is called (or the caller gives up). Calls counts them on arrival,
// so a test can wait until a call is blocked. release may be called more
// than once.
func (s *Server) Hang() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hang = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hang == ch {
				s.hang = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Calls returns how many AccessSecretVersion requests the server received,
// failed ones included.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Client returns a real Secret Manager client connected to the server
// without authentication, closed when t ends.
//
// The client's automatic retries are turned off so that an outage injected
// with Fail(codes.Unavailable) answers at once instead of after the
// library's backoff (2s, 4s, ... up to 60s); each request then maps to
// exactly one call counted by Calls.
func (s *Server) Client(t testing.TB) *secretmanager.Client {
	t.Helper()
	c, err := secretmanager.NewClient(context.Background(), s.ClientOptions()...)
	if err != nil {
		t.Fatalf("secretstest: new client: %v", err)
	}
	c.CallOptions.AccessSecretVersion = nil
	t.Cleanup(func() { c.Close() })
	return c
}

// ClientOptions connect a client to the server without authentication.
// Passed as secrets.Options.ClientOptions, they let the Resolver create its
// own client with its own call settings (retries and timeouts).
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// AccessSecretVersion implements the RPC: name is
// projects/P/secrets/S/versions/V with V a version number or "latest". The
// payload carries data_crc32c (CRC32C of the data) as the real service does.
func (s *Server) AccessSecretVersion(ctx context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	s.mu.Lock()
	s.calls++
	hang := s.hang
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != codes.OK {
		return nil, status.Errorf(s.fail, "secretstest: injected failure")
	}
	secret, version, ok := strings.Cut(req.GetName(), "/versions/")
	if !ok || strings.Count(secret, "/") != 3 || !strings.HasPrefix(secret, "projects/") {
		return nil, status.Errorf(codes.InvalidArgument, "invalid resource name [%s]", req.GetName())
	}
	versions, ok := s.secrets[secret]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", secret)
	}
	n := len(versions)
	if version != "latest" {
		var err error
		if n, err = strconv.Atoi(version); err != nil || n < 1 || n > len(versions) {
			return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", req.GetName())
		}
	}
	data := append([]byte(nil), versions[n-1]...)
	sum := int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    fmt.Sprintf("%s/versions/%d", secret, n),
		Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &sum},
	}, nil
}
