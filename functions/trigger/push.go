package trigger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/verify"
	"github.com/cloudhooks/webhooks/shared/verify/ipallow"
)

// maxPushBody bounds a push request: Pub/Sub's 10 MB message limit, base64
// encoded, plus the envelope.
const maxPushBody = 14 << 20

// pushCheck admits a push request before its job is read. An error
// wrapping errPushRefused refuses the request (answered per refusal);
// any other error is ours, and Pub/Sub redelivers.
type pushCheck func(r *http.Request) error

// errPushRefused means the request does not come from the push
// subscription.
var errPushRefused = errors.New("push refused")

// serveWorker is the TriggerWorker function: the Pub/Sub push
// subscription's requests, each with an OIDC token of the push identity.
func serveWorker(w http.ResponseWriter, r *http.Request) {
	processWorker.pushHandler(processWorker.oidcCheck, http.StatusNoContent).ServeHTTP(w, r)
}

// PushHandler serves TriggerWorker to the local runner's Pub/Sub emulator,
// which mints no OIDC token: it answers requests from this machine to a
// loopback name only, and only requests that a cross-site page cannot make
// (localOnly). It answers 204 when the job is finished with and 500
// (Pub/Sub redelivers) when it failed retryably. Jobs are signed and
// checked here as in a deployment.
func PushHandler() http.Handler { return processWorker.pushHandler(localOnly, http.StatusForbidden) }

// pushHandler checks each request with check, answering refused when it
// refuses it, then runs its job. A refused request to the deployed
// worker is answered 204: Pub/Sub takes it as done and never redelivers it.
func (w *worker) pushHandler(check pushCheck, refused int) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxPushBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(rw, "too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(rw, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := check(r); err != nil {
			if !errors.Is(err, errPushRefused) {
				w.logError(r.Context(), "trigger worker: cannot check the push; Pub/Sub redelivers it", err)
				http.Error(rw, "cannot check the push; redeliver", http.StatusInternalServerError)
				return
			}
			w.logError(r.Context(), "trigger: job", err, "result", resultRefused)
			if refused == http.StatusNoContent {
				rw.WriteHeader(refused)
				return
			}
			http.Error(rw, "refused", refused)
			return
		}
		if err := w.handle(r.Context(), body); err != nil {
			http.Error(rw, "job failed; redeliver", http.StatusInternalServerError)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	})
}

// logError logs a push that was not run, with the worker's logger.
func (w *worker) logError(ctx context.Context, msg string, err error, attrs ...any) {
	log := slog.Default()
	if d, derr := w.deps(ctx); derr == nil {
		log = d.log
	}
	log.Error(msg, append([]any{logging.FieldFunction, functionWorker, "reason", err.Error()}, attrs...)...)
}

// oidcCheck requires the OIDC token that the push subscription signs its
// requests with: Google-signed, for EnvPushAudience, of the service account
// EnvPushEmail (shared/verify's oidc scheme). Cloud Run's invoker check
// admits the same token before the request gets here; this check holds
// even where that one is loosened (an invoker granted more widely, a
// function made public).
func (w *worker) oidcCheck(r *http.Request) error {
	v, err := w.pushVerifier()
	if err != nil {
		return err
	}
	if _, err := v.Verify(r.Context(), r, nil); err != nil {
		if errors.Is(err, verify.ErrSecretUnavailable) {
			return fmt.Errorf("push token: %w", err)
		}
		return fmt.Errorf("%w: push token: %w", errPushRefused, err)
	}
	return nil
}

// pushVerifier returns the worker's OIDC verifier, made once from the
// environment (EnvPushAudience, EnvPushEmail). Without them every push
// fails (500), so that Pub/Sub keeps the jobs and dead-letters them.
func (w *worker) pushVerifier() (*verify.Verifier, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.push != nil {
		return w.push, nil
	}
	s, err := processSettings()
	if err != nil {
		return nil, err
	}
	v, err := verify.New(functionWorker, verify.Config{Scheme: verify.SchemeOIDC, Audience: s.PushAudience, Email: s.PushEmail}, nil)
	if err != nil {
		return nil, fmt.Errorf("trigger worker: %s and %s: %w", EnvPushAudience, EnvPushEmail, err)
	}
	w.push = v
	return v, nil
}

// localOnly admits what the Pub/Sub emulator sends from this machine, as
// the local inspector admits its page's requests
// (functions/cmd/local/inspector): a client address that is loopback, a
// Host that is a loopback name (a DNS-rebinding page reaches 127.0.0.1
// under its own name), and a request a cross-site page cannot send
// without a CORS preflight that nothing here approves: Content-Type
// application/json (Pub/Sub's push content type, not one a form can
// send), no Origin of another site, and no Sec-Fetch-Site other than
// same-origin or none.
func localOnly(r *http.Request) error {
	if err := ipallow.FromThisMachine(r); err != nil {
		return fmt.Errorf("%w: %w", errPushRefused, err)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fmt.Errorf("%w: Content-Type is not application/json", errPushRefused)
	}
	if origin := r.Header.Get("Origin"); origin != "" && !ipallow.SameOrigin(origin, r.Host) {
		return fmt.Errorf("%w: cross-site Origin %q", errPushRefused, origin)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Errorf("%w: Sec-Fetch-Site %q", errPushRefused, site)
	}
	return nil
}

// emulatorMaxDeliveryAttempts is the dead-letter policy SetUpEmulator
// gives the jobs subscription (Pub/Sub's minimum).
const emulatorMaxDeliveryAttempts = 5

// SetUpEmulator creates, on the Pub/Sub emulator that PUBSUB_EMULATOR_HOST
// names, what terraform creates in a deployment: the jobs and dead-letter
// topics (TRIGGER_JOBS_TOPIC, TRIGGER_DEAD_LETTER_TOPIC), a push
// subscription named like the jobs topic delivering jobs to
// pushBase + "/projects/P/topics/T" (PushHandler's or the framework's
// TriggerWorker URL) with message ordering and a dead-letter policy, and a
// pull subscription named like the dead-letter topic for Replay (the
// names terraform gives them). What exists
// already is kept. It refuses to run without the emulator, so a local run
// never changes a real project.
func SetUpEmulator(ctx context.Context, pushBase string) error {
	s, err := processSettings()
	if err != nil {
		return fmt.Errorf("trigger.SetUpEmulator: %w", err)
	}
	if v, _ := lookupEnv(envPubSubEmulator); v == "" {
		return fmt.Errorf("trigger.SetUpEmulator: %s is not set", envPubSubEmulator)
	}
	c, err := pubsub.NewClient(ctx, s.PubSubProject)
	if err != nil {
		return fmt.Errorf("trigger.SetUpEmulator: pubsub.NewClient: %w", err)
	}
	defer c.Close()
	jobs, dead := fullTopic(s.PubSubProject, s.JobsTopic), fullTopic(s.PubSubProject, s.DeadLetterTopic)
	for _, t := range []string{jobs, dead} {
		if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: t}); exists(err) != nil {
			return fmt.Errorf("trigger.SetUpEmulator: create topic %s: %w", t, err)
		}
	}
	subs := []*pubsubpb.Subscription{{
		Name:                  subscriptionName(s.PubSubProject, s.JobsTopic),
		Topic:                 jobs,
		PushConfig:            &pubsubpb.PushConfig{PushEndpoint: strings.TrimSuffix(pushBase, "/") + "/" + jobs},
		AckDeadlineSeconds:    60,
		EnableMessageOrdering: true,
		DeadLetterPolicy:      &pubsubpb.DeadLetterPolicy{DeadLetterTopic: dead, MaxDeliveryAttempts: emulatorMaxDeliveryAttempts},
	}, {
		Name:  subscriptionName(s.PubSubProject, s.DeadLetterTopic),
		Topic: dead,
	}}
	for _, sub := range subs {
		if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, sub); exists(err) != nil {
			return fmt.Errorf("trigger.SetUpEmulator: create subscription %s: %w", sub.Name, err)
		}
	}
	return nil
}

// exists turns AlreadyExists into success.
func exists(err error) error {
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return err
}

func subscriptionName(project, id string) string {
	return "projects/" + project + "/subscriptions/" + id
}
