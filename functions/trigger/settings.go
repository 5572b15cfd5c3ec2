package trigger

import (
	"os"
	"sync"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/idempotency"
)

// Environment variables of Trigger and TriggerWorker, besides those of
// idempotency.SettingsFromEnv (FIRESTORE_DATABASE, IDEMPOTENCY_COLLECTION, ...).
const (
	// EnvProject is the deployment's project: Pub/Sub topics, Cloud Build
	// triggers without a project of their own, Firestore claims.
	EnvProject = "GOOGLE_CLOUD_PROJECT"
	// envPubSubEmulator points the Pub/Sub client at the emulator; the
	// client library reads it itself.
	envPubSubEmulator = "PUBSUB_EMULATOR_HOST"
	// EnvJobsTopic is the topic (id in the project) that async rules queue
	// their jobs on; TriggerWorker is subscribed to it.
	EnvJobsTopic = "TRIGGER_JOBS_TOPIC"
	// EnvDeadLetterTopic is the topic (id) that the jobs subscription
	// dead-letters to, and where the worker sends a job whose action failed
	// permanently.
	EnvDeadLetterTopic = "TRIGGER_DEAD_LETTER_TOPIC"
	// EnvJobKey is the secret reference of the key that Trigger signs its
	// jobs with and TriggerWorker checks them with (jobkey.go); terraform
	// sets it to its own secret, which only those two can read.
	EnvJobKey = "TRIGGER_JOB_KEY"
	// EnvPushAudience and EnvPushEmail are what the Pub/Sub push
	// subscription's OIDC token must say for TriggerWorker to read the job
	// it pushes: the audience the token is minted for and the push
	// identity's service account. TriggerWorker refuses every push while
	// either is unset.
	EnvPushAudience = "TRIGGER_PUSH_AUDIENCE"
	EnvPushEmail    = "TRIGGER_PUSH_EMAIL"
	// envDataDir is the local data folder where, without Google Cloud,
	// Cloud Build and Pub/Sub actions are recorded instead of performed.
	envDataDir = "WEBHOOKS_DATA_DIR"
)

// Defaults of the settings.
const (
	DefaultJobsTopic       = "trigger-jobs"
	DefaultDeadLetterTopic = "trigger-dead-letter"
	defaultDataDir         = ".local/data"
	// DefaultJobKey is the job key of local runs: the runner writes a
	// random one to .local/secrets/trigger-job-key.
	DefaultJobKey = "sm:trigger-job-key"
	// LocalProject stands in for GOOGLE_CLOUD_PROJECT when it is unset:
	// the Pub/Sub emulator's project, and the project of the Cloud Build
	// runs a local run records.
	LocalProject = "webhooks-local"
)

// settings is the configuration read from the environment at start-up.
type settings struct {
	Project         string // empty: local run
	PubSub          bool   // jobs go through Pub/Sub (project or emulator)
	PubSubProject   string
	JobsTopic       string
	DeadLetterTopic string
	DataDir         string
	JobKey          string // secret reference
	PushAudience    string
	PushEmail       string
	// Claims are the idempotency store's settings.
	Claims idempotency.Settings
}

// lookupEnv is os.LookupEnv; a variable so that tests can replace it.
var lookupEnv = os.LookupEnv

// settingsFromEnv reads and checks the settings, naming each bad one.
func settingsFromEnv(lookup func(string) (string, bool)) (settings, error) {
	env := config.NewEnv(lookup)
	s := settings{
		Project:         env.String(EnvProject, ""),
		JobsTopic:       env.String(EnvJobsTopic, DefaultJobsTopic),
		DeadLetterTopic: env.String(EnvDeadLetterTopic, DefaultDeadLetterTopic),
		DataDir:         env.String(envDataDir, defaultDataDir),
		JobKey:          env.String(EnvJobKey, DefaultJobKey),
		PushAudience:    env.String(EnvPushAudience, ""),
		PushEmail:       env.String(EnvPushEmail, ""),
	}
	s.PubSub = s.Project != "" || env.String(envPubSubEmulator, "") != ""
	s.PubSubProject = env.String(EnvProject, LocalProject)
	claims, err := idempotency.SettingsFromEnv(lookup)
	if err != nil {
		env.Fail(err)
	}
	s.Claims = claims
	return s, env.Err()
}

// processSettings returns the process's settings, read from lookupEnv on
// the first call (NewPattern's, at start-up) and kept, error included:
// every source, the worker and the clients use the one reading. A
// variable so that a test can read the environment afresh.
var processSettings = sync.OnceValues(func() (settings, error) { return settingsFromEnv(lookupEnv) })
