package trigger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxPushBody bounds a push request: Pub/Sub's 10 MB message limit, base64
// encoded, plus the envelope.
const maxPushBody = 14 << 20

// PushHandler serves TriggerWorker to a Pub/Sub push subscription
// directly, without the Functions Framework's CloudEvent conversion: the
// local runner mounts it, and a push endpoint may point at it. It answers
// 204 when the job is finished with and 500 (Pub/Sub redelivers) when it
// failed retryably.
func PushHandler() http.Handler { return processWorker.pushHandler() }

func (w *worker) pushHandler() http.Handler {
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
		if err := w.handle(r.Context(), body); err != nil {
			http.Error(rw, "job failed; redeliver", http.StatusInternalServerError)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	})
}

// EmulatorMaxDeliveryAttempts is the dead-letter policy SetUpEmulator
// gives the jobs subscription (Pub/Sub's minimum).
const EmulatorMaxDeliveryAttempts = 5

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
	s := settingsFromEnv(lookupEnv)
	if v, _ := lookupEnv(EnvPubSubEmulator); v == "" {
		return fmt.Errorf("trigger.SetUpEmulator: %s is not set", EnvPubSubEmulator)
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
		DeadLetterPolicy:      &pubsubpb.DeadLetterPolicy{DeadLetterTopic: dead, MaxDeliveryAttempts: EmulatorMaxDeliveryAttempts},
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
