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

// replayTarget is what `send replay` moves: from the dead-letter
// subscription to the jobs topic of a project.
type replayTarget struct {
	project, subscription, topic string
	max                          int
}

// replayNames reads replay's flags. Deployed, the names are terraform's
// (PREFIX-trigger-jobs and PREFIX-trigger-dead-letter, name_prefix
// "webhooks" unless -prefix says otherwise), so docs/trigger.md's command works
// as pasted; with PUBSUB_EMULATOR_HOST they are the local loop's.
func replayNames(args []string, getenv func(string) string) (replayTarget, error) {
	fs := flag.NewFlagSet("send replay", flag.ContinueOnError)
	project := fs.String("project", orEnv(getenv, "GOOGLE_CLOUD_PROJECT", trigger.LocalProject), "project of the topics")
	prefix := fs.String("prefix", "webhooks", "terraform's name_prefix: the deployed names are PREFIX-trigger-jobs and PREFIX-trigger-dead-letter")
	subscription := fs.String("subscription", "", "dead-letter subscription (default: terraform's, or the local loop's with PUBSUB_EMULATOR_HOST)")
	topic := fs.String("topic", "", "jobs topic to republish to (default: terraform's, or the local loop's)")
	max := fs.Int("max", 1000, "replay at most this many jobs")
	if err := fs.Parse(args); err != nil {
		return replayTarget{}, err
	}
	local := getenv("PUBSUB_EMULATOR_HOST") != ""
	pick := func(flagValue, env, localDefault, suffix string) string {
		switch {
		case flagValue != "":
			return flagValue
		case getenv(env) != "":
			return getenv(env)
		case local:
			return localDefault
		}
		return *prefix + suffix
	}
	return replayTarget{
		project:      *project,
		subscription: pick(*subscription, trigger.EnvDeadLetterTopic, trigger.DefaultDeadLetterTopic, "-trigger-dead-letter"),
		topic:        pick(*topic, trigger.EnvJobsTopic, trigger.DefaultJobsTopic, "-trigger-jobs"),
		max:          *max,
	}, nil
}

func orEnv(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// replay is `send replay`: the manual retry of Trigger jobs that Pub/Sub
// dead-lettered (the receiver was down for longer than the jobs
// subscription's delivery attempts). It moves them back to the jobs topic,
// where TriggerWorker runs them again; actions already done are skipped by
// their idempotency claims.
//
//	go run ./functions/cmd/send replay -project my-project          # deployed
//	PUBSUB_EMULATOR_HOST=localhost:8085 go run ./functions/cmd/send replay
func replay(ctx context.Context, args []string, out io.Writer) error {
	names, err := replayNames(args, os.Getenv)
	if err != nil {
		return err
	}
	client, err := pubsub.NewClient(ctx, names.project)
	if err != nil {
		return fmt.Errorf("pubsub.NewClient: %w", err)
	}
	defer client.Close()
	n, err := trigger.Replay(ctx, client, names.subscription, names.topic, names.max)
	fmt.Fprintf(out, "replayed %d dead-lettered jobs from %s to %s\n", n, names.subscription, names.topic)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return nil
}
