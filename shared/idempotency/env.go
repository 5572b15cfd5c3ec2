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

// Settings are the idempotency store's settings, as the environment gives
// them.
type Settings struct {
	// Project selects Firestore; empty means the in-memory store.
	Project, Database, Collection string
	// Lease and Retention: see DefaultLease and DefaultRetention.
	Lease, Retention time.Duration
}

// SettingsFromEnv reads and checks the settings, naming every bad one,
// without creating a client: functions call it at start-up so that a bad
// lease fails the revision, not its first event.
func SettingsFromEnv(lookup func(string) (string, bool)) (Settings, error) {
	env := config.NewEnv(lookup)
	s := Settings{
		Project:    env.String(EnvProject, ""),
		Database:   env.String(EnvDatabase, DefaultDatabase),
		Collection: env.String(EnvCollection, DefaultCollection),
		Lease:      env.Duration(EnvLease, DefaultLease),
		Retention:  env.Duration(EnvRetention, DefaultRetention),
	}
	if s.Project == "" && env.String(EnvEmulatorHost, "") != "" {
		env.Fail(errNoProject)
	}
	if err := env.Err(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// FromEnv returns the Firestore store when GOOGLE_CLOUD_PROJECT is set (in
// database FIRESTORE_DATABASE, collection IDEMPOTENCY_COLLECTION; the
// emulator when FIRESTORE_EMULATOR_HOST is set), and a Memory store
// otherwise. lookup is os.LookupEnv outside tests.
func FromEnv(ctx context.Context, lookup func(string) (string, bool)) (Store, error) {
	s, err := SettingsFromEnv(lookup)
	if err != nil {
		return nil, err
	}
	return FromSettings(ctx, s)
}

// FromSettings returns the store that settings already read by
// SettingsFromEnv select, so that a function reading its environment once
// need not read it again: Firestore when s.Project is set, a Memory store
// otherwise.
func FromSettings(ctx context.Context, s Settings) (Store, error) {
	if s.Project == "" {
		m := NewMemory(s.Lease)
		m.retention = s.Retention
		return m, nil
	}
	// The client lives as long as the process, beyond ctx.
	client, err := firestore.NewClientWithDatabase(context.WithoutCancel(ctx), s.Project, s.Database)
	if err != nil {
		return nil, fmt.Errorf("idempotency: firestore.NewClientWithDatabase: %w", err)
	}
	return NewFirestore(client, s.Collection, s.Lease, s.Retention), nil
}
