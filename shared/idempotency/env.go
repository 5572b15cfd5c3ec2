package idempotency

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/cloudhooks/webhooks/shared/config"
)

// Environment variables that FromEnv reads (the terraform sets the first
// three on every function that claims).
const (
	EnvProject    = "GOOGLE_CLOUD_PROJECT"
	EnvDatabase   = "FIRESTORE_DATABASE"
	EnvCollection = "IDEMPOTENCY_COLLECTION"
	// EnvEmulatorHost points the Firestore client at the emulator
	// (host:port); the client library reads it itself.
	EnvEmulatorHost = "FIRESTORE_EMULATOR_HOST"
	// EnvLease and EnvRetention override DefaultLease and DefaultRetention
	// (Go durations: "2m", "168h").
	EnvLease     = "IDEMPOTENCY_LEASE"
	EnvRetention = "IDEMPOTENCY_RETENTION"
)

// Defaults of the settings.
const (
	DefaultDatabase   = "(default)"
	DefaultCollection = "webhook-claims"
	// DefaultLease bounds how long a crashed instance's claim blocks
	// retries. It must outlast the slowest action (a function's request
	// timeout), or a slow action's claim is taken over while it acts.
	DefaultLease = 5 * time.Minute
	// DefaultRetention is how long a completed key is remembered: longer
	// than providers retry (Stripe: 3 days).
	DefaultRetention = 7 * 24 * time.Hour
)

// errNoProject is FromEnv's complaint about an emulator without a project.
var errNoProject = errors.New(EnvEmulatorHost + " is set but " + EnvProject + " is not: set it to any project id")

// FromEnv returns the Firestore store when GOOGLE_CLOUD_PROJECT is set (in
// database FIRESTORE_DATABASE, collection IDEMPOTENCY_COLLECTION; the
// emulator when FIRESTORE_EMULATOR_HOST is set), and a Memory store
// otherwise. lookup is os.LookupEnv outside tests.
func FromEnv(ctx context.Context, lookup func(string) (string, bool)) (Store, error) {
	env := config.NewEnv(lookup)
	lease := env.Duration(EnvLease, DefaultLease)
	retention := env.Duration(EnvRetention, DefaultRetention)
	project := env.String(EnvProject, "")
	if project == "" && env.String(EnvEmulatorHost, "") != "" {
		env.Fail(errNoProject)
	}
	if err := env.Err("idempotency.FromEnv"); err != nil {
		return nil, err
	}
	if project == "" {
		m := NewMemory(lease)
		m.retention = retention
		return m, nil
	}
	// The client lives as long as the process, beyond ctx.
	client, err := firestore.NewClientWithDatabase(context.WithoutCancel(ctx), project, env.String(EnvDatabase, DefaultDatabase))
	if err != nil {
		return nil, fmt.Errorf("idempotency.FromEnv: firestore.NewClientWithDatabase: %w", err)
	}
	return NewFirestore(client, env.String(EnvCollection, DefaultCollection), lease, retention), nil
}
