package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
)

// Environment variables of the Store function (the README's configuration
// reference lists them too).
const (
	// envProject is the project of the events table; EnvCloudProject
	// when unset. No project and no emulator selects the local sink.
	envProject = "BIGQUERY_PROJECT"
	// EnvCloudProject is the function's project (the terraform sets it
	// on every function).
	EnvCloudProject = "GOOGLE_CLOUD_PROJECT"
	// EnvDataset is the dataset of the events table (defaultDataset).
	EnvDataset = "BIGQUERY_DATASET"
	// EnvTable is the events table (defaultTable); its dedup view is
	// viewName(table).
	EnvTable = "BIGQUERY_TABLE"
	// envEmulatorHost is the BigQuery emulator's REST address (host:port),
	// used to create the dataset, table and dedup view an emulator lacks.
	envEmulatorHost = "BIGQUERY_EMULATOR_HOST"
	// envStorageEmulatorHost is the emulator's Storage API gRPC address
	// (host:port, its --grpc-port), which rows are written to.
	envStorageEmulatorHost = "BIGQUERY_STORAGE_EMULATOR_HOST"
	// envBatchWait is the group commit wait (a Go duration, "5ms"; "-1ns"
	// turns group commit off).
	envBatchWait = "STORE_BATCH_WAIT"
	// envBatchRows caps the rows of one append.
	envBatchRows = "STORE_BATCH_ROWS"
	// envDataDir is the local data folder; the local sink writes under
	// its store/ folder.
	envDataDir = "WEBHOOKS_DATA_DIR"
	// EnvPayloadBucket is the Cloud Storage bucket of the payloads above
	// maxInlinePayloadBytes; required wherever rows go to BigQuery.
	EnvPayloadBucket = "STORE_PAYLOAD_BUCKET"
	// envStorageEmulator is a Cloud Storage emulator's address
	// (host:port or a URL), the Go client's own variable; payloads go
	// there instead of Cloud Storage.
	envStorageEmulator = "STORAGE_EMULATOR_HOST"
)

// Defaults of the settings.
const (
	// defaultDataset is the dataset when BIGQUERY_DATASET is unset.
	defaultDataset = "webhooks"
	// defaultTable is the table when BIGQUERY_TABLE is unset.
	defaultTable = "events"
	// defaultDataDir is the local data folder when WEBHOOKS_DATA_DIR is
	// unset, relative to the working directory.
	defaultDataDir = ".local/data"
)

// settings is the Store function's configuration, read once at start-up.
type settings struct {
	Project, Dataset, Table string
	EmulatorHost            string
	StorageEmulatorHost     string
	DataDir                 string
	PayloadBucket           string
	StorageEmulator         string
	Writer                  writerOptions
}

// local reports whether events go to the local sink: nothing points at a
// BigQuery.
func (s settings) local() bool {
	return s.Project == "" && s.EmulatorHost == "" && s.StorageEmulatorHost == ""
}

// settingsFromEnv reads and validates the settings, naming every setting
// that is wrong and how to fix it.
func settingsFromEnv(lookup func(string) (string, bool)) (settings, error) {
	env := config.NewEnv(lookup)
	s := settings{
		Project:             env.String(envProject, env.String(EnvCloudProject, "")),
		Dataset:             env.String(EnvDataset, defaultDataset),
		Table:               env.String(EnvTable, defaultTable),
		EmulatorHost:        env.String(envEmulatorHost, ""),
		StorageEmulatorHost: env.String(envStorageEmulatorHost, ""),
		DataDir:             env.String(envDataDir, defaultDataDir),
		PayloadBucket:       env.String(EnvPayloadBucket, ""),
		StorageEmulator:     env.String(envStorageEmulator, ""),
	}
	s.Writer.Rows = int(env.Int(envBatchRows, 0)) // 0: writerOptions' default
	// The one setting that may be negative: "-1ns" turns group commit off.
	if v := env.String(envBatchWait, ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d == 0 {
			env.Fail(fmt.Errorf("%s=%q: want a non-zero Go duration such as 5ms (negative: no group commit)", envBatchWait, v))
		}
		s.Writer.Wait = d
	}
	// A bad name would fail every append as retryable, forever: refuse it
	// at start-up instead. Dataset ids are letters, digits and
	// underscores; table ids may hold more, but never what would break
	// the stream path or the view's quoting.
	if !validDataset(s.Dataset) {
		env.Fail(fmt.Errorf("%s=%q: want letters, digits and underscores", EnvDataset, s.Dataset))
	}
	if strings.ContainsAny(s.Table, "/.`\\ \t\n") {
		env.Fail(fmt.Errorf("%s=%q: want a table id without '/', '.', '`' or spaces", EnvTable, s.Table))
	}
	emulated := s.EmulatorHost != "" || s.StorageEmulatorHost != ""
	if emulated && s.Project == "" {
		env.Fail(fmt.Errorf("%s or %s is set but %s is not: set it to the emulator's --project", envEmulatorHost, envStorageEmulatorHost, envProject))
	}
	if emulated && (s.EmulatorHost == "" || s.StorageEmulatorHost == "") {
		env.Fail(fmt.Errorf("an emulator needs both %s (REST, --port) and %s (gRPC, --grpc-port)", envEmulatorHost, envStorageEmulatorHost))
	}
	// Without a bucket an event above 8 MiB could only be refused, and a
	// refusal (422) is an event lost: a BigQuery sink needs one.
	switch {
	case !s.local() && s.PayloadBucket == "":
		env.Fail(fmt.Errorf("%s is unset: payloads above %d MiB are kept in a Cloud Storage bucket, set it to the bucket's name", EnvPayloadBucket, maxInlinePayloadBytes>>20))
	case s.PayloadBucket != "" && !validBucket(s.PayloadBucket):
		env.Fail(fmt.Errorf("%s=%q: want a bucket name (3-222 lower-case letters, digits, '-', '_' and '.'), not a URL", EnvPayloadBucket, s.PayloadBucket))
	}
	if err := env.Err(); err != nil {
		return settings{}, err
	}
	return s, nil
}

func validDataset(id string) bool {
	for _, r := range id {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return id != "" && len(id) <= 1024
}

func validBucket(name string) bool {
	for _, r := range name {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return len(name) >= 3 && len(name) <= 222
}
