package fcmtest_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/cloudhooks/webhooks/functions/relay/fcmtest"
)

// TestRealClientRoundTrip proves the server speaks FCM v1 as the real SDK
// expects: the message arrives decoded over HTTP/2 with its fields, and
// the answer's name comes back.
func TestRealClientRoundTrip(t *testing.T) {
	srv := fcmtest.NewServer("p")
	defer srv.Close()
	ctx := context.Background()
	c, err := srv.Messaging(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name, err := c.Send(ctx, &messaging.Message{
		Topic:        "news",
		Notification: &messaging.Notification{Title: "T", Body: "B"},
		Data:         map[string]string{"k": "v"},
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if name != "projects/p/messages/1" {
		t.Errorf("name = %q", name)
	}
	sent := srv.Sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d messages, want 1", len(sent))
	}
	got := sent[0]
	if got.Proto != "HTTP/2.0" || got.Message.Topic != "news" || got.Message.Notification.Title != "T" || got.Message.Data["k"] != "v" {
		t.Errorf("received %+v (proto %s)", got.Message, got.Proto)
	}
}

// The SDK's own transport, the one Relay's instances send with (they give
// it no HTTP client: functions/relay/clients.go), speaks HTTP/2 to FCM
// through golang.org/x/net, so it keeps HTTP/2 in the deployed build,
// which leaves net/http's own copy out (nethttpomithttp2 in
// terraform/source.tf; .ci/test.sh runs this test built that way too).
// The send runs in a child process, which trusts the server's
// certificate as a system root (SSL_CERT_FILE, read once per process).
func TestTheSDKsOwnTransportSendsOverHTTP2(t *testing.T) {
	if url := os.Getenv("FCMTEST_CHILD_URL"); url != "" {
		ctx := context.Background()
		app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: "p"}, option.WithEndpoint(url+"/v1"),
			option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: fcmtest.AccessToken})))
		if err != nil {
			t.Fatal(err)
		}
		c, err := app.Messaging(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(ctx, &messaging.Message{Topic: "news"}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		return
	}
	srv := fcmtest.NewServer("p")
	defer srv.Close()
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestTheSDKsOwnTransportSendsOverHTTP2$", "-test.count=1")
	child.Env = append(os.Environ(), "FCMTEST_CHILD_URL="+srv.URL, "SSL_CERT_FILE="+roots, "SSL_CERT_DIR="+t.TempDir())
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("the send: %v\n%s", err, out)
	}
	sent := srv.Sent()
	if len(sent) != 1 || sent[0].Proto != "HTTP/2.0" {
		t.Fatalf("received %d messages (first over %v), want one over HTTP/2.0", len(sent), protos(sent))
	}
}

func protos(sent []fcmtest.Received) []string {
	var out []string
	for _, r := range sent {
		out = append(out, r.Proto)
	}
	return out
}

// TestFailuresReachTheSDKAsFCMErrors proves each injected failure is
// recognised by the SDK's own predicates, Retry-After included.
func TestFailuresReachTheSDKAsFCMErrors(t *testing.T) {
	cases := []struct {
		name    string
		fail    *fcmtest.Failure
		is      func(error) bool
		retryIn string
	}{
		{"unregistered token", fcmtest.Unregistered, messaging.IsUnregistered, ""},
		{"invalid argument", fcmtest.InvalidArgument, messaging.IsInvalidArgument, ""},
		{"sender id mismatch", fcmtest.SenderMismatch, messaging.IsSenderIDMismatch, ""},
		{"internal", fcmtest.Internal, messaging.IsInternal, ""},
		{"quota exceeded with retry-after", fcmtest.QuotaExceeded("7"), messaging.IsQuotaExceeded, "7"},
		{"unavailable beyond the SDK's retry cap", fcmtest.Unavailable("600"), messaging.IsUnavailable, "600"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := fcmtest.NewServer("p")
			defer srv.Close()
			srv.Fail(func(fcmtest.Received) *fcmtest.Failure { return tc.fail })
			c, err := srv.Messaging(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Send(context.Background(), &messaging.Message{Token: "tok", Data: map[string]string{"a": "b"}})
			if err == nil || !tc.is(err) {
				t.Fatalf("Send error = %v, want one the SDK classifies as %s", err, tc.name)
			}
			if got := errorutils.HTTPResponse(err).Header.Get("Retry-After"); got != tc.retryIn {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryIn)
			}
			if len(srv.Sent()) != 0 {
				t.Errorf("a failed request was counted as sent")
			}
		})
	}
}

// TestRejectsWhatFCMRejects proves the server checks what FCM checks:
// the bearer token, the project, and exactly one target.
func TestRejectsWhatFCMRejects(t *testing.T) {
	srv := fcmtest.NewServer("p")
	defer srv.Close()
	cases := []struct {
		name, token, path, body string
		want                    int
	}{
		{"no access token is unauthenticated", "", "/v1/projects/p/messages:send", `{"message":{"topic":"t"}}`, 401},
		{"another project is not found", fcmtest.AccessToken, "/v1/projects/other/messages:send", `{"message":{"topic":"t"}}`, 404},
		{"two targets are an invalid argument", fcmtest.AccessToken, "/v1/projects/p/messages:send", `{"message":{"topic":"t","token":"x"}}`, 400},
		{"no target is an invalid argument", fcmtest.AccessToken, "/v1/projects/p/messages:send", `{"message":{"data":{"a":"b"}}}`, 400},
		{"bad JSON is an invalid argument", fcmtest.AccessToken, "/v1/projects/p/messages:send", `{"message":`, 400},
		{"one target is accepted", fcmtest.AccessToken, "/v1/projects/p/messages:send", `{"message":{"topic":"t"}}`, 200},
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if got := len(srv.Sent()); got != 1 {
		t.Errorf("accepted %d messages, want 1", got)
	}
}
