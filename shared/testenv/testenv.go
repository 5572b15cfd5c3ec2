// Package testenv starts the emulators and tools that tests need and decides
// what a test does when one is missing.
//
// Under a bare `go test` a test that needs the BigQuery, Firestore or
// Pub/Sub emulator skips when it cannot start one. Under the README's test
// command (`make test`, which sets WEBHOOKS_STRICT=1) it fails instead, so a
// missing install step can never turn into a green run.
//
//	func TestClaim(t *testing.T) {
//		project, host := testenv.Firestore(t) // skips or fails when unavailable
//		...
//	}
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StrictEnv is the environment variable that makes missing emulators fail
// tests instead of skipping them. The README's test command sets it.
const StrictEnv = "WEBHOOKS_STRICT"

// Strict reports whether missing emulators must fail tests.
func Strict() bool { return os.Getenv(StrictEnv) == "1" }

// Missing skips t, or fails it under the README's test command, because
// what it needs is unavailable for the given reason.
func Missing(t testing.TB, what string, reason error) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s is required under %s=1 but unavailable: %v", what, StrictEnv, reason)
	}
	t.Skipf("%s unavailable (set %s=1 to make this a failure): %v", what, StrictEnv, reason)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv.FreePort: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a child process started for a test; its combined output is
// kept so a failing test can show why the process misbehaved.
type Process struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

// Write collects the child's output.
func (p *Process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output returns what the child printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Pid returns the child's process id, to read its /proc files.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop ends the child and every process it started (emulator launchers
// such as gcloud fork the real server). Once the child is stopped, Stop
// does nothing: its process group id may since belong to another.
func (p *Process) Stop() {
	if p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// Start runs name with args in its own process group, stopped when the test
// ends.
func Start(t testing.TB, env []string, name string, args ...string) (*Process, error) {
	t.Helper()
	p := &Process{cmd: exec.Command(name, args...)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	t.Cleanup(p.Stop)
	return p, nil
}

// WaitTCP waits until addr accepts connections or the timeout passes.
func WaitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addr formats a loopback address for port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
