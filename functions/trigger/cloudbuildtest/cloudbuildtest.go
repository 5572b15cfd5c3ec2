// Package cloudbuildtest is an in-process Cloud Build API server for tests:
// the real cloud.google.com/go/cloudbuild client talks gRPC to it, so a
// test proves what a Trigger cloudbuild action sends over the wire. Cloud
// Build has no emulator.
//
//	srv := cloudbuildtest.Start(t)
//	client, _ := cloudbuild.NewClient(ctx, srv.ClientOptions()...)
//	... run a cloudbuild action with client ...
//	reqs := srv.Requests() // the RunBuildTriggerRequests received
//
// RunBuildTrigger answers with a finished long-running operation whose
// metadata and response name a build "build-<n>", unless a test queued
// failures with FailNext.
package cloudbuildtest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Server is a fake Cloud Build API serving RunBuildTrigger; every other
// method answers Unimplemented.
type Server struct {
	cloudbuildpb.UnimplementedCloudBuildServer

	addr string

	mu       sync.Mutex
	requests []*cloudbuildpb.RunBuildTriggerRequest
	fail     []codes.Code
}

// Start serves a fake on a loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cloudbuildtest: listen: %v", err)
	}
	s := &Server{addr: l.Addr().String()}
	g := grpc.NewServer()
	cloudbuildpb.RegisterCloudBuildServer(g, s)
	go func() { _ = g.Serve(l) }()
	t.Cleanup(g.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// ClientOptions point a cloudbuild.Client at the server, without
// credentials.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// FailNext makes the next calls fail with the given codes, one call each,
// in order; the calls are still recorded.
func (s *Server) FailNext(codes ...codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, codes...)
}

// Requests returns the RunBuildTrigger requests received so far.
func (s *Server) Requests() []*cloudbuildpb.RunBuildTriggerRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*cloudbuildpb.RunBuildTriggerRequest, len(s.requests))
	for i, r := range s.requests {
		out[i] = proto.Clone(r).(*cloudbuildpb.RunBuildTriggerRequest)
	}
	return out
}

// RunBuildTrigger records req and answers with a finished operation.
func (s *Server) RunBuildTrigger(_ context.Context, req *cloudbuildpb.RunBuildTriggerRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	s.requests = append(s.requests, proto.Clone(req).(*cloudbuildpb.RunBuildTriggerRequest))
	n := len(s.requests)
	var fail codes.Code
	if len(s.fail) > 0 {
		fail, s.fail = s.fail[0], s.fail[1:]
	}
	s.mu.Unlock()
	if fail != codes.OK {
		return nil, status.Errorf(fail, "cloudbuildtest: injected failure")
	}
	if req.GetTriggerId() == "" {
		return nil, status.Error(codes.InvalidArgument, "cloudbuildtest: trigger_id is empty")
	}
	build := &cloudbuildpb.Build{
		Id:             fmt.Sprintf("build-%d", n),
		ProjectId:      req.GetProjectId(),
		BuildTriggerId: req.GetTriggerId(),
		Status:         cloudbuildpb.Build_QUEUED,
		Substitutions:  req.GetSource().GetSubstitutions(),
	}
	md, err := anypb.New(&cloudbuildpb.BuildOperationMetadata{Build: build})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "cloudbuildtest: metadata: %v", err)
	}
	resp, err := anypb.New(build)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "cloudbuildtest: response: %v", err)
	}
	return &longrunningpb.Operation{
		Name:     fmt.Sprintf("projects/%s/operations/op-%d", req.GetProjectId(), n),
		Metadata: md,
		Done:     true,
		Result:   &longrunningpb.Operation_Response{Response: resp},
	}, nil
}
