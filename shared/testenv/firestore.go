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

// FirestoreProject is the project id tests use on an emulator this package
// starts; the emulator accepts any.
const FirestoreProject = "webhooks-test"

// firestoreEmulator is the one emulator of this test binary.
var firestoreEmulator struct {
	once     sync.Once
	host     string
	err      error
	exited   chan struct{} // closed when the shell has exited
	lifeline *os.File      // closing it (or exiting) stops the emulator
}

// Firestore returns the project and host:port of a Firestore emulator:
// the one FIRESTORE_EMULATOR_HOST names when it is set (project from
// GOOGLE_CLOUD_PROJECT, else FirestoreProject), or one started with
// `gcloud emulators firestore start` on the first call and shared by every
// test of the binary. It calls Missing when gcloud or the emulator is
// unavailable.
//
// The started emulator stops when the test binary exits, however it exits:
// it runs under a shell that holds the read end of a pipe whose write end
// only this process has, and kills its process group when the pipe closes.
// TestMain may call StopFirestore to stop it earlier.
func Firestore(t testing.TB) (project, host string) {
	t.Helper()
	if h := os.Getenv("FIRESTORE_EMULATOR_HOST"); h != "" {
		project = os.Getenv("GOOGLE_CLOUD_PROJECT")
		if project == "" {
			project = FirestoreProject
		}
		return project, h
	}
	e := &firestoreEmulator
	e.once.Do(func() { e.host, e.err = startFirestore(FreePort(t)) })
	if e.err != nil {
		Missing(t, "Firestore emulator", e.err)
	}
	return FirestoreProject, e.host
}

// startFirestore starts the emulator on port and waits until it listens.
func startFirestore(port int) (string, error) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		return "", fmt.Errorf("gcloud (Cloud SDK with the cloud-firestore-emulator component): %w", err)
	}
	host := Addr(port)
	r, w, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("lifeline pipe: %w", err)
	}
	// The shell waits for end of file on stdin, which comes when this
	// process closes w or exits, then kills gcloud and the Java emulator it
	// forks: gcloud moves itself into a process group of its own, so both
	// that group and the shell's (in case gcloud had not moved yet) die.
	script := `gcloud emulators firestore start --host-port="$1" & pid=$!; read -r _; kill -KILL -- -"$pid" -$$`
	out := &Process{}
	cmd := exec.Command("bash", "-c", script, "firestore-emulator", host)
	cmd.Stdin = r
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return "", fmt.Errorf("start gcloud emulators firestore: %w", err)
	}
	r.Close()
	e := &firestoreEmulator
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
			StopFirestore()
			return "", fmt.Errorf("firestore emulator did not listen: %w\n%s", err, out.Output())
		}
		return host, nil
	case err := <-exited:
		StopFirestore()
		return "", fmt.Errorf("firestore emulator exited: %v\n%s", err, out.Output())
	}
}

// StopFirestore stops the emulator that Firestore started, if any, and
// waits (a few seconds at most) for it to go. Call it from TestMain after
// m.Run; without it the emulator still stops when the binary exits.
func StopFirestore() {
	e := &firestoreEmulator
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
