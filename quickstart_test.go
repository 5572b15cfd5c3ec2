package webhooks_test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's first two code blocks, as a newcomer pastes them into a
// fresh clone: `make run`, then each `send` line (send is `go run
// ./functions/cmd/send`), then the `cat` the first line suggests. Only the
// port differs (a free one, through PORT, which both read).
func TestREADMEQuickstartWorksAsPasted(t *testing.T) {
	if testing.Short() {
		t.Skip("clones the repository and runs make run")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllSubmatch(readme, 2)
	if len(blocks) < 2 || !strings.HasPrefix(string(blocks[0][1]), "make run") {
		t.Fatalf("the README's first code block is not `make run`, then a block of send lines")
	}
	var sends [][]string
	for _, line := range strings.Split(string(blocks[1][1]), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if f := strings.Fields(line); len(f) > 1 && f[0] == "send" {
			sends = append(sends, f[1:])
		}
	}
	if len(sends) == 0 {
		t.Fatal("the README's second code block has no send line")
	}

	clone := filepath.Join(t.TempDir(), "webhooks")
	if out, err := exec.Command("git", "clone", "--quiet", ".", clone).CombinedOutput(); err != nil {
		t.Skipf("not a git checkout to clone: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	// A newcomer's shell: none of the settings the tests export.
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "WEBHOOKS_CONFIG", "WEBHOOKS_SECRETS_DIR", "WEBHOOKS_DATA_DIR", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST",
			"BIGQUERY_EMULATOR_HOST", "BIGQUERY_STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "PORT":
		default:
			env = append(env, kv)
		}
	}
	env = append(env, "PORT="+port)
	run := exec.Command("make", "run")
	run.Dir, run.Env = clone, env
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // make, go run and the runner stop together
	out, err := run.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	run.Stderr = run.Stdout
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-run.Process.Pid, syscall.SIGTERM)
		_ = run.Wait()
	})
	ready, exited := make(chan struct{}), make(chan struct{})
	var banner strings.Builder
	go func() {
		defer close(exited)
		s := bufio.NewScanner(out)
		for s.Scan() {
			banner.WriteString(s.Text() + "\n")
			if strings.HasPrefix(s.Text(), "Inspector:") {
				close(ready)
				for s.Scan() {
				}
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("make run exited:\n%s", banner.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("make run did not serve:\n%s", banner.String())
	}
	for _, args := range sends {
		send := exec.Command("go", append([]string{"run", "./functions/cmd/send"}, args...)...)
		send.Dir, send.Env = clone, env
		if b, err := send.CombinedOutput(); err != nil {
			t.Errorf("send %s, as the README has it: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	rows, _ := filepath.Glob(filepath.Join(clone, ".local", "data", "store", "*.ndjson"))
	if len(rows) == 0 {
		t.Error("cat .local/data/store/*.ndjson, as the README says: no file")
	}
}
