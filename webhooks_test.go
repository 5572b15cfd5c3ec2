package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/testenv"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// buildpackMain is the program the Cloud Run functions Go buildpack
// generates: a main module that imports the function source's root
// package and starts the Functions Framework, which serves FUNCTION_TARGET.
const buildpackMain = `package main

import (
	"log"
	"os"

	_ "github.com/cloudhooks/webhooks"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	if err := funcframework.Start(os.Getenv("PORT")); err != nil {
		log.Fatal(err)
	}
}
`

// buildAsTheBuildpack builds buildpackMain against this module with cgo
// off, as the buildpack does, and returns the binary.
func buildAsTheBuildpack(t *testing.T) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Dir(here)
	dir := t.TempDir()
	gomod := fmt.Sprintf("module buildpack\n\ngo 1.26\n\nrequire github.com/cloudhooks/webhooks v0.0.0\n\nreplace github.com/cloudhooks/webhooks => %s\n", root)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(buildpackMain)} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "server")
	cmd := exec.Command("go", "build", "-mod=mod", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building as the buildpack does: %v\n%s", err, out)
	}
	return bin
}

func TestTheBuildpackServesTheFunctionNamedByFunctionTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a server binary")
	}
	bin := buildAsTheBuildpack(t)
	secretsDir, dataDir := t.TempDir(), t.TempDir()
	const key = "buildpack-test-key"
	if err := os.WriteFile(filepath.Join(secretsDir, "github-webhook-secret"), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	env := append(os.Environ(), "FUNCTION_TARGET=Store", fmt.Sprintf("PORT=%d", port),
		"WEBHOOKS_SECRETS_DIR="+secretsDir, "WEBHOOKS_DATA_DIR="+dataDir,
		"GOOGLE_CLOUD_PROJECT=", "BIGQUERY_PROJECT=", "BIGQUERY_EMULATOR_HOST=", "BIGQUERY_STORAGE_EMULATOR_HOST=")
	proc, err := testenv.Start(t, env, bin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := testenv.WaitTCP(ctx, testenv.Addr(port), 20*time.Second); err != nil {
		t.Fatalf("server did not listen: %v\n%s", err, proc.Output())
	}

	body := []byte(`{"ref":"refs/heads/main","repository":{"full_name":"o/r"}}`)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://%s/github", testenv.Addr(port)), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "buildpack-delivery-1")
	if err := verify.Sign(verify.Config{Scheme: "github"}, []byte(key), time.Now(), req, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed push: %d %s\n%s", resp.StatusCode, answer, proc.Output())
	}
	stored := readTree(t, dataDir)
	if !strings.Contains(stored, "buildpack-delivery-1") || !strings.Contains(stored, "refs/heads/main") {
		t.Fatalf("the event is not in the local sink under %s:\n%s", dataDir, stored)
	}

	// An unsigned request to the same function is refused.
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://%s/github", testenv.Addr(port)), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned push: %d, want 401", resp.StatusCode)
	}
}

func TestABadConfigurationStopsTheRevisionFromStarting(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a server binary")
	}
	bin := buildAsTheBuildpack(t)
	bad := filepath.Join(t.TempDir(), "webhooks.yaml")
	if err := os.WriteFile(bad, []byte("store:\n  sources:\n    - name: github\n      verify:\n        scheme: githib\n        secret: sm:x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "FUNCTION_TARGET=Store", fmt.Sprintf("PORT=%d", testenv.FreePort(t)), "WEBHOOKS_CONFIG="+bad)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started with a bad scheme:\n%s", out)
	}
	if !strings.Contains(string(out), "verify.scheme") {
		t.Fatalf("the start-up error does not name the bad field:\n%s", out)
	}
}

// readTree returns the contents of every file under dir.
func readTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(path)
			b.Write(data)
		}
		return nil
	})
	return b.String()
}
