package relay

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/idempotency"
)

// Environment variables of the Relay function, besides those of
// idempotency.SettingsFromEnv (FIRESTORE_DATABASE, IDEMPOTENCY_COLLECTION,
// IDEMPOTENCY_LEASE, IDEMPOTENCY_RETENTION, FIRESTORE_EMULATOR_HOST).
const (
	// EnvProject is the deployment's project: the Firebase project too,
	// unless EnvFirebaseProject names another. Unset: dry run.
	EnvProject = "GOOGLE_CLOUD_PROJECT"
	// EnvFirebaseProject is the Firebase project whose topics and tokens
	// messages go to, when it is not the deployment's (a team's existing
	// Firebase app); terraform's firebase_project.
	EnvFirebaseProject = "FIREBASE_PROJECT"
	// envDryRun set to 1 records messages instead of sending them, even
	// with a project.
	envDryRun = "RELAY_DRY_RUN"
	// envDataDir is the local data folder of dry runs.
	envDataDir = "WEBHOOKS_DATA_DIR"
	// envSendTimeout bounds one rule's send, FCM's own retries included
	// (Go duration). It must stay below the claim lease.
	envSendTimeout = "RELAY_SEND_TIMEOUT"
)

// Defaults of the settings.
const (
	defaultDataDir     = ".local/data"
	defaultSendTimeout = 30 * time.Second
)

// settings is the Relay function's configuration, read from the
// environment once per process (processSettings).
type settings struct {
	Project     string
	DryRun      bool
	DataDir     string
	SendTimeout time.Duration
	// Claims are the idempotency store's settings.
	Claims idempotency.Settings
	// OnCloudRun is K_SERVICE being set: missing Google credentials are
	// then an error, not a dry run.
	OnCloudRun bool
}

// lookupEnv is os.LookupEnv; a variable so that a test can read the
// settings from a map.
var lookupEnv = os.LookupEnv

// settingsFromEnv reads and checks the settings, naming each bad one.
func settingsFromEnv(lookup func(string) (string, bool)) (settings, error) {
	env := config.NewEnv(lookup)
	s := settings{
		Project:     env.String(EnvFirebaseProject, env.String(EnvProject, "")),
		DryRun:      env.Bool(envDryRun, false),
		DataDir:     env.String(envDataDir, defaultDataDir),
		SendTimeout: env.Duration(envSendTimeout, defaultSendTimeout),
	}
	if s.Project == "" {
		s.DryRun = true
	}
	_, s.OnCloudRun = lookup("K_SERVICE")
	// A send that outlasts its claim could be sent again by a redelivery
	// taking the claim over: the one thing Relay promises not to do.
	claims, err := idempotency.SettingsFromEnv(lookup)
	if err != nil {
		env.Fail(err)
	} else if s.SendTimeout >= claims.Lease {
		env.Fail(fmt.Errorf("%s=%s: must stay below the claim lease %s=%s", envSendTimeout, s.SendTimeout, idempotency.EnvLease, claims.Lease))
	}
	s.Claims = claims
	return s, env.Err()
}

// processSettings returns the process's settings, read from lookupEnv on
// the first call (NewPattern's, at start-up) and kept, error included:
// every source and the clients use the one reading. A variable so that a
// test can read the environment afresh.
var processSettings = sync.OnceValues(func() (settings, error) { return settingsFromEnv(lookupEnv) })
