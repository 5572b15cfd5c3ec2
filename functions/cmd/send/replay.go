package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"cloud.google.com/go/pubsub/v2"

	"github.com/cloudhooks/webhooks/functions/trigger"
)

// replay is `send replay`: the manual retry of Trigger jobs that Pub/Sub
// dead-lettered (the receiver was down for longer than the jobs
// subscription's delivery attempts). It moves them back to the jobs topic,
// where TriggerWorker runs them again; actions already done are skipped by
// their idempotency claims.
//
//	go run ./functions/cmd/send replay -project my-project          # deployed
//	PUBSUB_EMULATOR_HOST=localhost:8085 go run ./functions/cmd/send replay
func replay(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("send replay", flag.ContinueOnError)
	project := fs.String("project", envOr("GOOGLE_CLOUD_PROJECT", trigger.LocalProject), "project of the topics")
	subscription := fs.String("subscription", envOr(trigger.EnvDeadLetterTopic, trigger.DefaultDeadLetterTopic),
		"dead-letter subscription (terraform names it like the dead-letter topic)")
	topic := fs.String("topic", envOr(trigger.EnvJobsTopic, trigger.DefaultJobsTopic), "jobs topic to republish to")
	max := fs.Int("max", 1000, "replay at most this many jobs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client, err := pubsub.NewClient(ctx, *project)
	if err != nil {
		return fmt.Errorf("pubsub.NewClient: %w", err)
	}
	defer client.Close()
	n, err := trigger.Replay(ctx, client, *subscription, *topic, *max)
	fmt.Fprintf(out, "replayed %d dead-lettered jobs from %s to %s\n", n, *subscription, *topic)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return nil
}

// envOr returns the environment variable name, or def when it is unset or
// empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
