package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BigQuery emulator (github.com/goccy/bigquery-emulator) settings.
const (
	// BigQueryEmulatorBinEnv names the emulator binary, overriding the
	// default path that .ci/bigquery-emulator.sh builds into.
	BigQueryEmulatorBinEnv = "BIGQUERY_EMULATOR_BIN"
	// BigQueryEmulatorVersion is the emulator version the CI script builds.
	BigQueryEmulatorVersion = "v0.6.6"
	// BigQueryProject is the project id of the emulators BigQuery starts;
	// the emulator serves exactly one project, named on its command line.
	BigQueryProject = "webhooks-test"
)

// BigQueryEmulator is a BigQuery emulator started for one test: the REST
// API (tables, queries) on REST and the Storage API (Write and Read) on
// GRPC. It keeps its data in memory: Restart brings back an empty emulator
// on the same addresses. (Its --database file would keep the rows, but
// v0.6.6 forgets a project's datasets when it starts again, and then can
// neither find nor recreate them.)
type BigQueryEmulator struct {
	// Project is the one project the emulator serves.
	Project string
	// REST is the host:port of the REST API (BIGQUERY_EMULATOR_HOST).
	REST string
	// GRPC is the host:port of the Storage API
	// (BIGQUERY_STORAGE_EMULATOR_HOST).
	GRPC string

	t    testing.TB
	bin  string
	proc *Process
}

// BigQuery starts a BigQuery emulator for t on free ports and waits until
// both of its APIs listen; it stops when t ends. It calls Missing when the
// binary is absent (build it with `bash .ci/bigquery-emulator.sh`) or does
// not start.
//
// Each call starts its own emulator (about a second): tests that stop and
// restart one do not disturb the others.
func BigQuery(t testing.TB) *BigQueryEmulator {
	t.Helper()
	bin, err := bigQueryBinary()
	if err != nil {
		Missing(t, "BigQuery emulator", err)
	}
	e := &BigQueryEmulator{
		Project: BigQueryProject,
		REST:    Addr(FreePort(t)),
		GRPC:    Addr(FreePort(t)),
		t:       t,
		bin:     bin,
	}
	if err := e.start(); err != nil {
		Missing(t, "BigQuery emulator", err)
	}
	return e
}

// Env returns the environment variables that point the Store function at
// the emulator (BIGQUERY_PROJECT, BIGQUERY_EMULATOR_HOST,
// BIGQUERY_STORAGE_EMULATOR_HOST), as NAME=value pairs.
func (e *BigQueryEmulator) Env() []string {
	return []string{
		"BIGQUERY_PROJECT=" + e.Project,
		"BIGQUERY_EMULATOR_HOST=" + e.REST,
		"BIGQUERY_STORAGE_EMULATOR_HOST=" + e.GRPC,
	}
}

// Stop kills the emulator at once, as a crash or a network cut would: open
// connections break, and nothing more is acknowledged.
func (e *BigQueryEmulator) Stop() {
	if e.proc != nil {
		e.proc.Stop()
		e.proc = nil
	}
}

// Restart starts an empty emulator on the same ports, stopping the
// running one first, and fails the test if it does not come up: clients
// holding connections see them break, then reconnect to a BigQuery that
// has lost its tables.
func (e *BigQueryEmulator) Restart() {
	e.t.Helper()
	e.Stop()
	if err := e.start(); err != nil {
		e.t.Fatalf("testenv: restart BigQuery emulator: %v", err)
	}
}

// Output returns what the running emulator printed so far, for failure
// messages.
func (e *BigQueryEmulator) Output() string {
	if e.proc == nil {
		return ""
	}
	return e.proc.Output()
}

func (e *BigQueryEmulator) start() error {
	_, restPort, _ := net.SplitHostPort(e.REST)
	_, grpcPort, _ := net.SplitHostPort(e.GRPC)
	p, err := Start(e.t, nil, e.bin,
		"--project="+e.Project,
		"--host=127.0.0.1",
		"--port="+restPort,
		"--grpc-port="+grpcPort,
		"--log-level=error",
	)
	if err != nil {
		return err
	}
	e.proc = p
	ctx := context.Background()
	for _, addr := range []string{e.REST, e.GRPC} {
		if err := WaitTCP(ctx, addr, 30*time.Second); err != nil {
			p.Stop()
			e.proc = nil
			return fmt.Errorf("bigquery emulator did not listen: %w\n%s", err, p.Output())
		}
	}
	return nil
}

// bigQueryBinary finds the emulator: BIGQUERY_EMULATOR_BIN, else where
// .ci/bigquery-emulator.sh builds it.
func bigQueryBinary() (string, error) {
	if bin := os.Getenv(BigQueryEmulatorBinEnv); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s: %w", BigQueryEmulatorBinEnv, err)
		}
		return bin, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the emulator: %w", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	bin := filepath.Join(cache, "webhooks", "bigquery-emulator-"+BigQueryEmulatorVersion, "bin", "bigquery-emulator")
	if _, err := os.Stat(bin); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s not built (run `bash .ci/bigquery-emulator.sh`, or set %s)", bin, BigQueryEmulatorBinEnv)
		}
		return "", err
	}
	return bin, nil
}
