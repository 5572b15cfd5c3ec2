package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PubSubProject is the project id tests use on an emulator this package
// starts; the emulator accepts any.
const PubSubProject = "webhooks-test"

// pubsubEmulator is the one Pub/Sub emulator of this test binary.
var pubsubEmulator struct {
	once     sync.Once
	host     string
	err      error
	exited   chan struct{} // closed when the shell has exited
	lifeline *os.File      // closing it (or exiting) stops the emulator
}

// PubSub returns the project and host:port of a Pub/Sub emulator: the one
// PUBSUB_EMULATOR_HOST names when it is set (project from
// GOOGLE_CLOUD_PROJECT, else PubSubProject), or one started with
// `gcloud beta emulators pubsub start` on the first call and shared by every
// test of the binary. It calls Missing when gcloud or the emulator is
// unavailable.
//
// Tests point the client at it with option.WithEndpoint(host),
// option.WithoutAuthentication() and an insecure gRPC dial, or by setting
// PUBSUB_EMULATOR_HOST (t.Setenv), which the client library reads itself.
// Topics and subscriptions live as long as the emulator: give each test its
// own names.
//
// The started emulator stops when the test binary exits, however it exits
// (see Firestore for how); TestMain may call StopPubSub to stop it earlier.
func PubSub(t testing.TB) (project, host string) {
	t.Helper()
	if h := os.Getenv("PUBSUB_EMULATOR_HOST"); h != "" {
		project = os.Getenv("GOOGLE_CLOUD_PROJECT")
		if project == "" {
			project = PubSubProject
		}
		return project, h
	}
	e := &pubsubEmulator
	e.once.Do(func() { e.host, e.err = startPubSub(FreePort(t)) })
	if e.err != nil {
		Missing(t, "Pub/Sub emulator", e.err)
	}
	return PubSubProject, e.host
}

// startPubSub starts the emulator on port and waits until it listens.
func startPubSub(port int) (string, error) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		return "", fmt.Errorf("gcloud (Cloud SDK with the pubsub-emulator component): %w", err)
	}
	host := Addr(port)
	r, w, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("lifeline pipe: %w", err)
	}
	// As for Firestore: the shell kills gcloud's process group (and the
	// Java emulator in it) when the lifeline pipe closes.
	script := `gcloud beta emulators pubsub start --host-port="$1" --project="$2" & pid=$!; read -r _; kill -KILL -- -"$pid" -$$`
	out := &Process{}
	cmd := exec.Command("bash", "-c", script, "pubsub-emulator", host, PubSubProject)
	cmd.Stdin = r
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return "", fmt.Errorf("start gcloud beta emulators pubsub: %w", err)
	}
	r.Close()
	e := &pubsubEmulator
	e.lifeline, e.exited = w, make(chan struct{})
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
		close(e.exited)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan error, 1)
	go func() { ready <- WaitTCP(ctx, host, 90*time.Second) }()
	select {
	case err := <-ready:
		if err != nil {
			StopPubSub()
			return "", fmt.Errorf("pubsub emulator did not listen: %w\n%s", err, out.Output())
		}
		return host, nil
	case err := <-exited:
		StopPubSub()
		return "", fmt.Errorf("pubsub emulator exited: %v\n%s", err, out.Output())
	}
}

// StopPubSub stops the emulator that PubSub started, if any, and waits (a
// few seconds at most) for it to go. Call it from TestMain after m.Run;
// without it the emulator still stops when the binary exits.
func StopPubSub() {
	e := &pubsubEmulator
	if e.lifeline == nil {
		return
	}
	_ = e.lifeline.Close()
	e.lifeline = nil
	select {
	case <-e.exited:
	case <-time.After(5 * time.Second):
	}
}
