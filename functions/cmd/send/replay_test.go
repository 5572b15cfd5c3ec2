package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cloudhooks/webhooks/functions/trigger"
	"github.com/cloudhooks/webhooks/shared/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPubSub()
	os.Exit(code)
}

// `send replay` moves every dead-lettered job back to the jobs topic, on
// the real Pub/Sub emulator through the real client, and leaves the
// dead-letter subscription empty.
func TestReplayMovesDeadLetteredJobsBackToTheJobsTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Pub/Sub emulator")
	}
	project, host := testenv.PubSub(t)
	t.Setenv("PUBSUB_EMULATOR_HOST", host)
	ctx := context.Background()
	client, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topic := func(name string) string { return "projects/" + project + "/topics/" + name }
	sub := func(name string) string { return "projects/" + project + "/subscriptions/" + name }
	for _, name := range []string{"replay-jobs", "replay-dead"} {
		if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic(name)}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub(name), Topic: topic(name)}); err != nil {
			t.Fatal(err)
		}
	}
	pub := client.Publisher(topic("replay-dead"))
	for _, data := range []string{`{"rule":"a"}`, `{"rule":"b"}`} {
		if _, err := pub.Publish(ctx, &pubsub.Message{Data: []byte(data)}).Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pub.Stop()

	var out bytes.Buffer
	if err := realMain(ctx, []string{"replay", "-project", project, "-subscription", "replay-dead", "-topic", "replay-jobs"}, &out); err != nil {
		t.Fatalf("send replay: %v", err)
	}
	if !strings.Contains(out.String(), "replayed 2 ") {
		t.Errorf("send replay printed %q, want 2 replayed", out.String())
	}
	got := pull(t, client, sub("replay-jobs"), 2)
	if len(got) != 2 {
		t.Fatalf("jobs topic received %d messages, want 2: %q", len(got), got)
	}
	if left := pull(t, client, sub("replay-dead"), 1); len(left) != 0 {
		t.Errorf("dead-letter subscription still holds %q", left)
	}
}

// pull returns the data of up to want messages, waiting a few seconds.
func pull(t *testing.T, client *pubsub.Client, subscription string, want int) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: subscription, MaxMessages: int32(want)})
		cancel()
		if err != nil {
			continue
		}
		for _, m := range resp.GetReceivedMessages() {
			got = append(got, string(m.GetMessage().GetData()))
			_ = client.SubscriptionAdminClient.Acknowledge(context.Background(), &pubsubpb.AcknowledgeRequest{Subscription: subscription, AckIds: []string{m.GetAckId()}})
		}
	}
	return got
}

// docs/trigger.md's recovery command, pasted during an incident, must reach the
// topics terraform created: it defaulted to the local loop's names.
func TestReplayDefaultsToTheNamesTerraformCreates(t *testing.T) {
	tf, err := os.ReadFile(filepath.Join("..", "..", "..", "terraform", "trigger.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-trigger-jobs", "-trigger-dead-letter"} {
		if !strings.Contains(string(tf), `"${var.name_prefix}`+suffix+`"`) {
			t.Fatalf("terraform/trigger.tf names no ${var.name_prefix}%s", suffix)
		}
	}
	tests := []struct {
		args      []string
		env       map[string]string
		sub, jobs string
	}{
		{[]string{"-project", "p"}, nil, "webhooks-trigger-dead-letter", "webhooks-trigger-jobs"},
		{[]string{"-project", "p", "-prefix", "hooks"}, nil, "hooks-trigger-dead-letter", "hooks-trigger-jobs"},
		{nil, map[string]string{"PUBSUB_EMULATOR_HOST": "localhost:8085"}, trigger.DefaultDeadLetterTopic, trigger.DefaultJobsTopic},
		{[]string{"-subscription", "s", "-topic", "t"}, nil, "s", "t"},
	}
	for _, tt := range tests {
		got, err := replayNames(tt.args, func(k string) string { return tt.env[k] })
		if err != nil {
			t.Fatal(err)
		}
		if got.subscription != tt.sub || got.topic != tt.jobs {
			t.Errorf("send replay %v: %s -> %s, want %s -> %s", tt.args, got.subscription, got.topic, tt.sub, tt.jobs)
		}
	}
}
