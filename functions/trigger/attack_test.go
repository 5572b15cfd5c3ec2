package trigger

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// The worker runs a job only when it proves where it came from: pushed by
// the push identity, signed with the job key, for an event its rule
// matches. Each test here is an attack that must not run the action.

// attackRules: a rule that runs on pushes to main only.
const attackRules = `
- name: deploy
  events: [push]
  condition: payload.ref == "refs/heads/main"
  actions:
    - name: call
      type: http
      url: %s
      allow_private_network: true # the test's receiver is on loopback
      retry: {max_attempts: 1}
`

// attackWorker returns a worker over attackRules calling rcv.
func attackWorker(t *testing.T, rcv *receiver) (*worker, *deps, *syncBuffer) {
	t.Helper()
	d, logs := testDeps(t)
	tr := newTrigger(t, fmt.Sprintf(attackRules, rcv.srv.URL), d)
	return &worker{load: func() (map[string]*source, error) { return map[string]*source{"src": tr.src}, nil },
		deps: func(context.Context) (*deps, error) { return d, nil }}, d, logs
}

// featureBranchPush is a push event to a branch the rule does not deploy.
func featureBranchPush(t *testing.T, id string) *event.Event {
	ev := githubEvent(t, "push", id)
	ev.Payload = bytes.Replace(ev.Payload, []byte(`"refs/heads/main"`), []byte(`"refs/heads/feature"`), 1)
	return ev
}

func TestWorkerRefusesJobsThatDoNotProveTheirOrigin(t *testing.T) {
	tests := []struct {
		name string
		body func(t *testing.T) []byte
	}{
		{"an unsigned job, as any publisher on the jobs topic can send", func(t *testing.T) []byte {
			return pushBody(t, jobKey{}, &job{Event: githubEvent(t, "push", "a1"), Rule: "deploy", Action: "call"})
		}},
		{"a job signed with another key", func(t *testing.T) []byte {
			return pushBody(t, otherJobKey, &job{Event: githubEvent(t, "push", "a2"), Rule: "deploy", Action: "call"})
		}},
		{"a signature that is not base64url", func(t *testing.T) []byte {
			b := pushBody(t, jobKey{}, &job{Event: githubEvent(t, "push", "a3"), Rule: "deploy", Action: "call"})
			return bytes.Replace(b, []byte(`"attempt":"1"`), []byte(`"attempt":"1","job_signature":"v1=!!"`), 1)
		}},
		{"a signed job whose data was changed: another event", func(t *testing.T) []byte {
			b := pushBody(t, testJobKey, &job{Event: githubEvent(t, "push", "a4"), Rule: "deploy", Action: "call"})
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			forged, _ := json.Marshal(&job{Event: githubEvent(t, "push", "a4-forged"), Rule: "deploy", Action: "call"})
			m["message"].(map[string]any)["data"] = base64.StdEncoding.EncodeToString(forged)
			b, _ = json.Marshal(m)
			return b
		}},
		{"a correctly signed job whose event the rule does not match (a push to another branch)", func(t *testing.T) []byte {
			return pushBody(t, testJobKey, &job{Event: featureBranchPush(t, "a5"), Rule: "deploy", Action: "call"})
		}},
		{"a correctly signed job of an event type the rule does not take", func(t *testing.T) []byte {
			ev := githubEvent(t, "release", "a6")
			return pushBody(t, testJobKey, &job{Event: ev, Rule: "deploy", Action: "call"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, 200)
			w, _, logs := attackWorker(t, rcv)
			if err := w.handle(context.Background(), tt.body(t)); err != nil {
				t.Fatalf("handle = %v, want nil: a refused job is acknowledged, never redelivered", err)
			}
			if reqs, _ := rcv.got(); len(reqs) != 0 {
				t.Fatalf("the action ran %d times for a job that proves nothing", len(reqs))
			}
			if !strings.Contains(logs.String(), `"result":"refused"`) {
				t.Errorf("the refusal is not logged: %s", logs)
			}
		})
	}
}

// A job whose signature cannot be checked (Secret Manager unavailable) is
// neither run nor dropped: Pub/Sub redelivers it.
func TestWorkerRetriesAJobWhoseKeyCannotBeRead(t *testing.T) {
	rcv := newReceiver(t, 200)
	w, d, _ := attackWorker(t, rcv)
	body := pushBody(t, testJobKey, &job{Event: githubEvent(t, "push", "k1"), Rule: "deploy", Action: "call"})
	d.jobKey = jobKey{ref: "sm:test-job-key", secrets: memSecrets{}}
	if err := w.handle(context.Background(), body); err == nil {
		t.Fatal("handle = nil with the job key unreadable: the job would be lost")
	}
	if reqs, _ := rcv.got(); len(reqs) != 0 {
		t.Fatalf("the action ran %d times unverified", len(reqs))
	}
}

// A key too short to be a real one signs nothing: a placeholder value put
// in the secret does not make jobs forgeable.
func TestAShortJobKeySignsNothing(t *testing.T) {
	k := jobKey{ref: "sm:k", secrets: memSecrets{"sm:k": "changeme\n"}}
	if _, err := k.sign(context.Background(), []byte("{}")); err == nil {
		t.Fatal("a job was signed with an 8-byte key")
	}
}

// googleKeys serves Google's JWKS format (what
// https://www.googleapis.com/oauth2/v3/certs returns, which the real
// idtoken validator fetches) for one RSA key, and mints ID tokens with it
// as Google mints the push subscription's.
type googleKeys struct {
	key    *rsa.PrivateKey
	client *http.Client // every request goes to the fake, whatever its URL
}

func newGoogleKeys(t *testing.T) *googleKeys {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/v3/certs" {
			http.NotFound(w, r)
			return
		}
		enc := base64.RawURLEncoding
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kid": "k1", "kty": "RSA", "alg": "RS256", "use": "sig",
			"n": enc.EncodeToString(key.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	t.Cleanup(srv.Close)
	target, _ := url.Parse(srv.URL)
	return &googleKeys{key: key, client: &http.Client{Transport: toServer{target}}}
}

type toServer struct{ target *url.URL }

func (ts toServer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = ts.target.Scheme, ts.target.Host
	return http.DefaultTransport.RoundTrip(r)
}

func (g *googleKeys) token(t *testing.T, audience, email string) string {
	t.Helper()
	n := time.Now()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	p, _ := json.Marshal(map[string]any{"iss": "https://accounts.google.com", "aud": audience, "email": email,
		"email_verified": true, "sub": "1", "iat": n.Unix(), "exp": n.Add(time.Hour).Unix()})
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, g.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

func TestDeployedWorkerRunsOnlyPushesWithThePushIdentitysToken(t *testing.T) {
	const (
		audience = "https://webhooks-trigger-worker-123.europe-west1.run.app"
		pusher   = "webhooks-trigger-push@p.iam.gserviceaccount.com"
	)
	keys := newGoogleKeys(t)
	tests := []struct {
		name    string
		auth    func(t *testing.T) string
		wantRun bool
	}{
		{"no token (anyone who can reach the worker)", func(*testing.T) string { return "" }, false},
		{"a token of another service account", func(t *testing.T) string {
			return "Bearer " + keys.token(t, audience, "editor@p.iam.gserviceaccount.com")
		}, false},
		{"the push identity's token for another receiver", func(t *testing.T) string {
			return "Bearer " + keys.token(t, "https://other.example", pusher)
		}, false},
		{"a token not signed by Google", func(t *testing.T) string {
			other := newGoogleKeys(t)
			return "Bearer " + other.token(t, audience, pusher)
		}, false},
		{"the push identity's token", func(t *testing.T) string { return "Bearer " + keys.token(t, audience, pusher) }, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, 200)
			w, _, logs := attackWorker(t, rcv)
			v, err := verify.New(functionWorker, verify.Config{Scheme: verify.SchemeOIDC, Audience: audience, Email: pusher}, nil,
				verify.WithHTTPClient(keys.client))
			if err != nil {
				t.Fatal(err)
			}
			w.push = v
			srv := httptest.NewServer(w.pushHandler(w.oidcCheck, http.StatusNoContent))
			t.Cleanup(srv.Close)
			body := pushBody(t, testJobKey, &job{Event: githubEvent(t, "push", fmt.Sprintf("o%d", i)), Rule: "deploy", Action: "call"})
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/projects/p/topics/jobs", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if a := tt.auth(t); a != "" {
				req.Header.Set("Authorization", a)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("answered %d, want 204 (acknowledged: Pub/Sub must not redeliver)", resp.StatusCode)
			}
			reqs, _ := rcv.got()
			if ran := len(reqs) > 0; ran != tt.wantRun {
				t.Fatalf("the action ran: %v, want %v", ran, tt.wantRun)
			}
			if !tt.wantRun && !strings.Contains(logs.String(), `"result":"refused"`) {
				t.Errorf("the refusal is not logged: %s", logs)
			}
		})
	}
}

// Without its audience and push identity the deployed worker runs
// nothing, and keeps the jobs (500: Pub/Sub redelivers, then dead-letters)
// instead of acknowledging them.
func TestDeployedWorkerWithoutPushSettingsRunsNothing(t *testing.T) {
	setProcessEnv(t, map[string]string{EnvPushEmail: "p@x.iam.gserviceaccount.com"})
	rcv := newReceiver(t, 200)
	w, _, _ := attackWorker(t, rcv)
	rec := httptest.NewRecorder()
	body := pushBody(t, testJobKey, &job{Event: githubEvent(t, "push", "s1"), Rule: "deploy", Action: "call"})
	w.pushHandler(w.oidcCheck, http.StatusNoContent).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("answered %d, want 500", rec.Code)
	}
	if reqs, _ := rcv.got(); len(reqs) != 0 {
		t.Fatalf("the action ran %d times", len(reqs))
	}
}

// The local runner's worker route (PushHandler, /triggerworker with the
// emulator) has no OIDC token to check: it answers this machine only, and
// nothing a web page in a browser on this machine can send.
func TestLocalWorkerRouteAnswersThisMachineOnly(t *testing.T) {
	ok := func(r *http.Request) {}
	tests := []struct {
		name   string
		remote string
		adjust func(r *http.Request)
		want   int
	}{
		{"the emulator on this machine", "127.0.0.1:5000", ok, http.StatusNoContent},
		{"another machine", "192.0.2.7:5000", ok, http.StatusForbidden},
		{"a DNS-rebinding page: loopback client, its own host name", "127.0.0.1:5000", func(r *http.Request) { r.Host = "evil.example:8080" }, http.StatusForbidden},
		{"a cross-site form post (text/plain)", "127.0.0.1:5000", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, http.StatusForbidden},
		{"a cross-site fetch (Origin of another site)", "127.0.0.1:5000", func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, http.StatusForbidden},
		{"a cross-site navigation (Sec-Fetch-Site)", "[::1]:5000", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, http.StatusForbidden},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, 200)
			w, _, _ := attackWorker(t, rcv)
			body := pushBody(t, testJobKey, &job{Event: githubEvent(t, "push", fmt.Sprintf("l%d", i)), Rule: "deploy", Action: "call"})
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/triggerworker/projects/p/topics/jobs", bytes.NewReader(body))
			req.RemoteAddr = tt.remote
			req.Header.Set("Content-Type", "application/json")
			tt.adjust(req)
			rec := httptest.NewRecorder()
			w.pushHandler(localOnly, http.StatusForbidden).ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("answered %d, want %d", rec.Code, tt.want)
			}
			reqs, _ := rcv.got()
			if ran := len(reqs) > 0; ran != (tt.want == http.StatusNoContent) {
				t.Fatalf("the action ran: %v", ran)
			}
		})
	}
}

// A job published straight to the jobs topic by someone holding
// pubsub.publisher but not the job key, pushed by the emulator to the
// worker: never run, acknowledged (not redelivered, not dead-lettered).
func TestAJobPublishedWithoutTheKeyNeverRuns(t *testing.T) {
	c := emulatorClient(t)
	jobsTopic := createTopic(t, c, uniqueName("jobs"))
	dlTopic := createTopic(t, c, uniqueName("dead"))
	dlSub := createSub(t, c, uniqueName("dead-sub"), &pubsubpb.Subscription{Topic: dlTopic})
	rcv := newReceiver(t, 200)
	w, d, logs := attackWorker(t, rcv)
	d.deadLetter = c.Publisher(dlTopic)
	t.Cleanup(d.deadLetter.Stop)
	createSub(t, c, uniqueName("jobs-push"), &pubsubpb.Subscription{
		Topic:            jobsTopic,
		PushConfig:       &pubsubpb.PushConfig{PushEndpoint: workerEndpoint(t, w).URL + "/" + jobsTopic},
		DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{DeadLetterTopic: dlTopic, MaxDeliveryAttempts: 5},
	})
	forged, _ := json.Marshal(&job{Event: githubEvent(t, "push", "forged"), Rule: "deploy", Action: "call"})
	attrs := (&job{Event: githubEvent(t, "push", "forged"), Rule: "deploy", Action: "call"}).attributes()
	for _, sig := range []string{"", mustSign(t, otherJobKey, forged)} {
		a := map[string]string{}
		for k, v := range attrs {
			a[k] = v
		}
		if sig != "" {
			a[attrSignature] = sig
		}
		if _, err := c.Publisher(jobsTopic).Publish(context.Background(), &pubsub.Message{Data: forged, Attributes: a}).Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "both pushes to be refused", func() bool { return strings.Count(logs.String(), `"result":"refused"`) == 2 })
	time.Sleep(time.Second) // a redelivery, were there one
	if reqs, _ := rcv.got(); len(reqs) != 0 {
		t.Fatalf("the forged jobs ran %d times", len(reqs))
	}
	if n := strings.Count(logs.String(), `"result":"refused"`); n != 2 {
		t.Errorf("%d refusals logged, want 2 (one delivery each: acknowledged)", n)
	}
	if dead := pullAll(t, c, dlSub, 1, time.Second); len(dead) != 0 {
		t.Errorf("%d forged jobs were dead-lettered, where Replay would bring them back", len(dead))
	}
}

func mustSign(t *testing.T, k jobKey, data []byte) string {
	t.Helper()
	sig, err := k.sign(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
