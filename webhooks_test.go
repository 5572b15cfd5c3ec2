package webhooks_test

// These tests stand in for the build Cloud Run functions runs on deploy,
// and so are built from that build's own source, GoogleCloudPlatform/
// buildpacks at 21f28de (2026-08-22):
//
//   - cmd/go/functions_framework/lib/lib.go: BuildFn moves the upload into
//     serverless_function_source_code/; extractPackageNameInDir parses its
//     root package; createMainGoMod asks `go list -m` for the module and
//     the framework's version, writes the main into
//     functions.local/app/main.go inside the source, runs `go mod tidy`
//     and builds that folder from the source folder; createMainGoFile
//     picks the declarative template only when the root package's own
//     imports hold functions-framework-go/functions, else the v1.1
//     template (framework >= v1.1.0) or v0.
//   - cmd/go/functions_framework/converter/get_package/main.go: the root
//     package is every .go file of the folder, parsed imports-only, and
//     its imports are the union of all files' import paths (blank imports
//     included).
//   - cmd/go/functions_framework/lib/template_declarative.go and
//     template_v1_1.go: the two mains, written below in our words.
//   - cmd/go/build/lib/lib.go (BuildFn, goBuildFlags) and
//     pkg/golang/golang.go (PerformBuild): `go build [-gcflags
//     $GOOGLE_GOGCFLAGS] [-ldflags $GOOGLE_GOLDFLAGS] -o OUT BUILDABLE` in
//     the source folder, each flag only when its variable is set
//     (buildpackFlags).
//   - pkg/gcpbuildpack/exec.go (ctx.Exec): every command runs with the
//     build's whole environment (os.Environ()), which holds the function's
//     build environment variables; nothing in the Go buildpacks sets
//     CGO_ENABLED or GOFLAGS, so cgo is what that environment says, and
//     else the toolchain's default: on, as the build image has a C
//     compiler, and the binary is dynamically linked.
//
// They run on what a deploy uploads: the archives terraform writes to
// terraform/.build/<EntryPoint>.zip (terraform/tests/archives.tftest.hcl
// runs the module's own archive_file data sources), never on this working
// tree, built with the build environment terraform gives the function
// (written beside the archive as <EntryPoint>.build-env.zip). The
// toolchain is this machine's Go with GOTOOLCHAIN=local, so a go directive
// the runtime's Go cannot meet fails here too. Every build runs in two
// configurations (buildConfigs): the buildpack's with the function's build
// environment, which switches cgo off (CGO_ENABLED=0: a static binary),
// and the buildpack's default without that switch, cgo left to the
// toolchain with a C compiler present, so that the functions stay
// buildable, and their cost seen, as the dynamically linked binaries the
// buildpack makes by default.

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"github.com/cloudhooks/webhooks/shared/testenv"
	"github.com/cloudhooks/webhooks/shared/verify"
)

const (
	frameworkModule    = "github.com/GoogleCloudPlatform/functions-framework-go"
	frameworkFunctions = frameworkModule + "/functions"
	// The framework version the buildpack requires when go.mod names none
	// (lib.go, functionsFrameworkVersion).
	buildpackFrameworkVersion = "v1.9.2"
	// The buildpack's folder names (lib.go: fnSourceDir, appModule).
	sourceDir = "serverless_function_source_code"
	appDir    = "functions.local/app"
)

// Go of the go126 runtime: the gcf_runtimes pin in GoogleCloudPlatform/
// buildpacks builders/go/acceptance/runtime.bzl (August 2026). A go
// directive above it makes the deploy build depend on downloading a newer
// toolchain.
const runtimeGo = "1.26.7"

// The two mains the buildpack generates, in our words: the declarative
// one imports the root package for its init registrations and serves
// FUNCTION_TARGET; the v1.1 one registers webhooks.<FUNCTION_TARGET> by
// its signature first. Both default PORT to 8080, and both register
// http.NotFound for /robots.txt and /favicon.ico on http.DefaultServeMux,
// which functions-framework-go v1.9.2 never serves: funcframework.Start
// serves a ServeMux of its own (framework.go, initServer) with the target
// at "/", so those paths reach the function. The HTTP functions answer
// them 404 "unknown source", TriggerWorker (a CloudEvent function) 400.
var (
	declarativeMain = template.Must(template.New("declarative").Parse(`package main

import (
	"log"
	"net/http"
	"os"

	_ "{{.Package}}"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
`))
	targetMain = template.Must(template.New("v1.1").Parse(`package main

import (
	"context"
	"log"
	"net/http"
	"os"

	userfunction "{{.Package}}"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	cloudevents "github.com/cloudevents/sdk-go/v2"
)

func register(fn any) error {
	ctx := context.Background()
	switch f := fn.(type) {
	case func(http.ResponseWriter, *http.Request):
		return funcframework.RegisterHTTPFunctionContext(ctx, "/", f)
	case func(context.Context, cloudevents.Event) error:
		return funcframework.RegisterCloudEventFunctionContext(ctx, "/", f)
	default:
		return funcframework.RegisterEventFunctionContext(ctx, "/", fn)
	}
}

func main() {
	if err := register(userfunction.{{.Target}}); err != nil {
		log.Fatalf("Function failed to register: %v\n", err)
	}
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
`))
)

// buildConfig is one way the archives are built.
type buildConfig struct {
	name string
	// cgoDefault drops CGO_ENABLED from the function's build environment,
	// leaving cgo to the toolchain, which must then find a C compiler, as
	// on the build image.
	cgoDefault bool
}

// buildConfigs: the deployed binary first (the function's build
// environment as terraform gives it), then the buildpack's default cgo
// build.
var buildConfigs = []buildConfig{{name: "buildpack"}, {name: "cgo", cgoDefault: true}}

// cgoWant is the CGO_ENABLED recorded by a binary built in this
// configuration with the function's build environment buildEnv.
func (c buildConfig) cgoWant(buildEnv map[string]string) string {
	if v, ok := buildEnv["CGO_ENABLED"]; ok && !c.cgoDefault {
		return v
	}
	return "1"
}

// env returns the environment the buildpack's commands run with for
// target: this machine's, without the variables a deploy build does not
// inherit, plus the function's build environment variables.
func (c buildConfig) env(target string, buildEnv map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "CGO_ENABLED", "GOFLAGS", "GOOGLE_GOGCFLAGS", "GOOGLE_GOLDFLAGS", "CC", "CGO_CFLAGS", "CGO_LDFLAGS":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GOTOOLCHAIN=local", "GOWORK=off", "FUNCTION_TARGET="+target)
	for _, name := range slices.Sorted(maps.Keys(buildEnv)) {
		if name == "CGO_ENABLED" && c.cgoDefault {
			continue
		}
		env = append(env, name+"="+buildEnv[name])
	}
	return env
}

// buildpackFlags is cmd/go/build/lib/lib.go's goBuildFlags over env.
func buildpackFlags(env []string) []string {
	lookup := func(name string) string {
		for _, kv := range slices.Backward(env) {
			if v, ok := strings.CutPrefix(kv, name+"="); ok {
				return v
			}
		}
		return ""
	}
	var flags []string
	if v := lookup("GOOGLE_GOGCFLAGS"); v != "" {
		flags = append(flags, "-gcflags", v)
	}
	if v := lookup("GOOGLE_GOLDFLAGS"); v != "" {
		flags = append(flags, "-ldflags", v)
	}
	return flags
}

// buildEnvironment reads the build environment terraform gives
// entryPoint's function from <EntryPoint>.build-env.zip in archives.
func buildEnvironment(t testing.TB, archives, entryPoint string) map[string]string {
	t.Helper()
	return environmentFile(t, archives, entryPoint, "build-env.json")
}

// runtimeEnvironment reads the Go runtime settings (GOGC, ...) terraform
// gives entryPoint's instances, from the same file.
func runtimeEnvironment(t testing.TB, archives, entryPoint string) map[string]string {
	t.Helper()
	return environmentFile(t, archives, entryPoint, "runtime-env.json")
}

// environmentFile reads name from <EntryPoint>.build-env.zip in archives.
func environmentFile(t testing.TB, archives, entryPoint, name string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join(archives, entryPoint+".build-env.zip"))
	if err != nil {
		t.Fatalf("the environment terraform writes beside the archive: %v", err)
	}
	defer zr.Close()
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatalf("%s.build-env.zip: %v", entryPoint, err)
	}
	defer rc.Close()
	env := map[string]string{}
	if err := json.NewDecoder(rc).Decode(&env); err != nil {
		t.Fatalf("%s.build-env.zip: %s: %v", entryPoint, name, err)
	}
	return env
}

// entryPoints are the functions terraform deploys, each with the modules
// its binary must not link: a Store instance pays for no Firebase, CEL or
// Cloud Build code at every cold start, and none pays for gRPC's xDS and
// Envoy's control plane, which only a gRPC Cloud Storage client would use
// (the build's -tags=disable_grpc_modules drops them).
var entryPoints = []struct {
	name      string
	forbidden []string
}{
	{"Store", append([]string{"firebase.google.com/go/v4", "cel.dev/cel-go", "cloud.google.com/go/cloudbuild"}, grpcExtras...)},
	{"Relay", append([]string{"cloud.google.com/go/bigquery", "cloud.google.com/go/cloudbuild"}, grpcExtras...)},
	{"Trigger", append([]string{"cloud.google.com/go/bigquery", "firebase.google.com/go/v4"}, grpcExtras...)},
	{"TriggerWorker", append([]string{"cloud.google.com/go/bigquery", "firebase.google.com/go/v4"}, grpcExtras...)},
}

// grpcExtras are the modules cloud.google.com/go/storage's grpc_dp.go
// links unless built with disable_grpc_modules.
var grpcExtras = []string{"github.com/envoyproxy/go-control-plane/envoy", "github.com/cncf/xds/go"}

func repoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Dir(here)
}

var (
	archivesOnce sync.Once
	archivesErr  error
)

// deployArchives has terraform write every function's archive, as a plan
// or apply does, and returns the folder holding <EntryPoint>.zip.
func deployArchives(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(), "terraform", ".build")
	archivesOnce.Do(func() {
		if _, err := exec.LookPath("terraform"); err != nil {
			archivesErr = err
			return
		}
		env := os.Environ()
		// The providers built from source beside the project, where the
		// registry is out of reach (../shared/terraform-providers/README.md).
		if setup := filepath.Join(repoRoot(), "..", "shared", "terraform-providers", "setup.sh"); fileExists(setup) {
			out, err := exec.Command("bash", setup).Output()
			if err != nil {
				archivesErr = fmt.Errorf("%s: %w", setup, err)
				return
			}
			env = append(env, strings.TrimPrefix(strings.TrimSpace(string(out)), "export "))
		}
		_ = os.RemoveAll(dir)
		for _, args := range [][]string{{"get"}, {"test", "-no-color", "-filter=tests/archives.tftest.hcl"}} {
			cmd := exec.Command("terraform", append([]string{"-chdir=terraform"}, args...)...)
			cmd.Dir, cmd.Env = repoRoot(), env
			if out, err := cmd.CombinedOutput(); err != nil {
				archivesErr = fmt.Errorf("terraform %s: %v\n%s\n(providers: TF_CLI_CONFIG_FILE from ../shared/terraform-providers/setup.sh, or terraform init -backend=false)", args[0], err, out)
				return
			}
		}
	})
	if archivesErr != nil {
		testenv.Missing(t, "terraform with the google and archive providers", archivesErr)
	}
	return dir
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// built is one archive after the buildpack's steps.
type built struct {
	bin      string   // the server binary
	source   string   // serverless_function_source_code: the unpacked archive
	template string   // "declarative" or "v1.1"
	files    []string // the archive's files; nil for a folder
	env      []string // the environment it was built with
}

// buildLikeTheBuildpack unpacks source (a deploy archive, or a folder,
// which is copied as an upload would be) and runs the buildpack's steps on
// it for target in configuration cfg, with the function's build
// environment variables buildEnv. forceTarget uses the v1.1 template
// whatever the imports say, as a future buildpack might.
func buildLikeTheBuildpack(t testing.TB, cfg buildConfig, buildEnv map[string]string, source, target string, forceTarget bool) built {
	t.Helper()
	app := t.TempDir()
	src := filepath.Join(app, sourceDir)
	var files []string
	if info, err := os.Stat(source); err == nil && info.IsDir() {
		if err := os.CopyFS(src, os.DirFS(source)); err != nil {
			t.Fatalf("copy the source folder: %v", err)
		}
	} else {
		files = unzip(t, source, src)
	}

	env := cfg.env(target, buildEnv)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = src, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s (in the unpacked %s): %v\n%s", strings.Join(args, " "), filepath.Base(source), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}

	if cfg.cgoWant(buildEnv) == "1" && run("go", "env", "CGO_ENABLED") != "1" {
		testenv.Missing(t, "a C compiler (the build image has one, so the buildpack's default binary is cgo-enabled)", errors.New("go env CGO_ENABLED is not 1"))
	}
	name, imports := rootPackage(t, src)
	module := run("go", "list", "-m")
	if first, _, _ := strings.Cut(module, "/"); !strings.Contains(first, ".") {
		t.Fatalf("module path %q: the buildpack refuses a first element without a dot", module)
	}
	pkg := module
	if _, err := os.Stat(filepath.Join(app, name)); err == nil {
		pkg = module + "/" + name
	}
	version := run("go", "list", "-m", "-f", "{{.Version}}", frameworkModule)
	if version == "" {
		run("go", "mod", "edit", "-require", frameworkModule+"@"+buildpackFrameworkVersion)
		version = buildpackFrameworkVersion
	}
	tmpl, which := declarativeMain, "declarative"
	if _, ok := imports[frameworkFunctions]; !ok || forceTarget {
		if semver.Compare(version, "v1.1.0") < 0 {
			t.Fatalf("framework %s would get the buildpack's v0 template, which these functions do not support", version)
		}
		tmpl, which = targetMain, "v1.1"
	}
	var main bytes.Buffer
	if err := tmpl.Execute(&main, map[string]string{"Package": pkg, "Target": target}); err != nil {
		t.Fatal(err)
	}
	mainDir := filepath.Join(src, appDir)
	if err := os.MkdirAll(mainDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mainDir, "main.go"), main.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run("go", "mod", "tidy")
	bin := filepath.Join(app, "main")
	run(slices.Concat([]string{"go", "build"}, buildpackFlags(env), []string{"-o", bin, mainDir})...)
	return built{bin: bin, source: src, template: which, files: files, env: env}
}

// rootPackage parses every .go file of dir imports-only, as the
// buildpack's get_package converter does, and returns the package name
// and the union of the files' imports.
func rootPackage(t testing.TB, dir string) (string, map[string]struct{}) {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, nil, parser.ImportsOnly) //nolint:staticcheck // the converter's own call
	if err != nil {
		t.Fatalf("parse the archive's root package: %v", err)
	}
	if len(pkgs) != 1 {
		t.Fatalf("the archive's root holds %d packages, the buildpack needs exactly one", len(pkgs))
	}
	for name, p := range pkgs {
		imports := map[string]struct{}{}
		for _, f := range p.Files {
			for _, im := range f.Imports {
				imports[strings.Trim(im.Path.Value, `"`)] = struct{}{}
			}
		}
		return name, imports
	}
	return "", nil
}

// unzip extracts archive into dir and returns the file names it held.
func unzip(t testing.TB, archive, dir string) []string {
	t.Helper()
	zr, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatalf("open the deploy archive: %v", err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		names = append(names, f.Name)
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(path, dir+string(filepath.Separator)) {
			t.Fatalf("archive entry %q escapes the folder", f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		// Writable, as the buildpack requires of go.mod.
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(names)
	return names
}

// neededFiles lists what building the root package of b reads: go.mod,
// go.sum and the Go, cgo and embedded files of every package of the module
// it compiles, in the environment it was built with.
func neededFiles(t *testing.T, b built) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,Module,GoFiles,CgoFiles,EmbedFiles", ".")
	cmd.Dir = b.source
	cmd.Env = b.env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	need := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct {
			Dir                           string
			Module                        *struct{ Main bool }
			GoFiles, CgoFiles, EmbedFiles []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, err := filepath.Rel(b.source, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range slices.Concat(p.GoFiles, p.CgoFiles, p.EmbedFiles) {
			need = append(need, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	sort.Strings(need)
	return need
}

// buildInfo returns the modules a binary links and its build settings
// (CGO_ENABLED, -ldflags, -tags, ...), as `go version -m` prints them.
func buildInfo(t *testing.T, bin string) (modules []string, settings map[string]string) {
	t.Helper()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("read the build information of %s: %v", bin, err)
	}
	settings = map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for _, m := range info.Deps {
		modules = append(modules, m.Path)
	}
	return modules, settings
}

func TestEveryFunctionBuildsFromItsDeployArchiveAsTheBuildpackDoes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform, builds and starts eight server binaries")
	}
	archives := deployArchives(t)
	for _, cfg := range buildConfigs {
		for _, ep := range entryPoints {
			t.Run(cfg.name+"/"+ep.name, func(t *testing.T) {
				buildEnv := buildEnvironment(t, archives, ep.name)
				b := buildLikeTheBuildpack(t, cfg, buildEnv, filepath.Join(archives, ep.name+".zip"), ep.name, false)
				if b.template != "declarative" {
					t.Errorf("the buildpack would generate its %s main, want the declarative one: the root package must import %s itself", b.template, frameworkFunctions)
				}
				if need := neededFiles(t, b); !slices.Equal(b.files, need) {
					t.Errorf("the archive holds %d files, the build reads %d: an extra file redeploys this function for nothing, a missing one breaks it\narchive: %v\nneeded:  %v",
						len(b.files), len(need), b.files, need)
				}
				linked, settings := buildInfo(t, b.bin)
				for _, m := range ep.forbidden {
					if slices.Contains(linked, m) {
						t.Errorf("%s links %s, which it never uses", ep.name, m)
					}
				}
				if want := cfg.cgoWant(buildEnv); settings["CGO_ENABLED"] != want {
					t.Errorf("built with CGO_ENABLED=%q, want %s", settings["CGO_ENABLED"], want)
				}
				if settings["-ldflags"] != buildEnv["GOOGLE_GOLDFLAGS"] {
					t.Errorf("linked with -ldflags %q, want GOOGLE_GOLDFLAGS %q (cmd/go/build/lib/lib.go passes it as -ldflags)", settings["-ldflags"], buildEnv["GOOGLE_GOLDFLAGS"])
				}
				serves(t, ep.name, b.bin)
			})
		}
	}
}

func TestAMainThatCallsTheEntryPointDirectlyAlsoBuildsAndServes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform, builds and starts server binaries")
	}
	archives := deployArchives(t)
	for _, ep := range entryPoints {
		t.Run(ep.name, func(t *testing.T) {
			b := buildLikeTheBuildpack(t, buildConfigs[0], buildEnvironment(t, archives, ep.name), filepath.Join(archives, ep.name+".zip"), ep.name, true)
			serves(t, ep.name, b.bin)
		})
	}
}

func TestTheGoDirectiveIsOneTheRuntimesGoMeets(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Go == nil {
		t.Fatal("go.mod has no go directive")
	}
	if semver.Compare("v"+f.Go.Version, "v"+runtimeGo) > 0 {
		t.Errorf("go.mod says go %s; the go126 runtime builds with Go %s and would have to download a toolchain", f.Go.Version, runtimeGo)
	}
	if f.Toolchain != nil {
		t.Errorf("go.mod names toolchain %s: the deploy build must use the runtime's own Go", f.Toolchain.Name)
	}
}

func TestABadConfigurationStopsTheRevisionFromStarting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform, builds and starts a server binary")
	}
	archives := deployArchives(t)
	b := buildLikeTheBuildpack(t, buildConfigs[0], buildEnvironment(t, archives, "Store"), filepath.Join(archives, "Store.zip"), "Store", false)
	bad := filepath.Join(t.TempDir(), "webhooks.yaml")
	if err := os.WriteFile(bad, []byte("store:\n  sources:\n    - name: github\n      verify:\n        scheme: githib\n        secret: sm:x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(b.bin)
	cmd.Env = append(os.Environ(), "FUNCTION_TARGET=Store", fmt.Sprintf("PORT=%d", testenv.FreePort(t)), "WEBHOOKS_CONFIG="+bad)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started with a bad scheme:\n%s", out)
	}
	if !strings.Contains(string(out), "verify.scheme") {
		t.Fatalf("the start-up error does not name the bad field:\n%s", out)
	}
}

// Development keys of the embedded configuration's secrets, as files the
// binaries read through WEBHOOKS_SECRETS_DIR.
var devKeys = map[string]string{
	"github-webhook-secret":   "buildpack-test-github-key",
	"stripe-webhook-secret":   "whsec_buildpacktestkey",
	"logto-webhook-secret":    "buildpack-test-logto-key",
	"standard-webhook-secret": "whsec_" + base64.StdEncoding.EncodeToString([]byte("buildpack-test-standard-key")),
	// Trigger signs the jobs it publishes with it (functions/trigger/jobkey.go).
	"trigger-job-key": "buildpack-test-trigger-job-key-0123456789",
}

// instanceEnv returns the environment a function binary starts with here:
// what Cloud Run sets (PORT, FUNCTION_TARGET) and no Google Cloud project,
// so the functions use their local sinks; the secrets are the development
// keys as files, and the work lands under dataDir.
func instanceEnv(t testing.TB, target string, port int) (env []string, dataDir string) {
	t.Helper()
	secretsDir, dataDir := t.TempDir(), t.TempDir()
	for name, key := range devKeys {
		if err := os.WriteFile(filepath.Join(secretsDir, name), []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// TriggerWorker's push settings, as terraform sets them.
	env = []string{"TRIGGER_PUSH_AUDIENCE=https://webhooks-trigger-worker-1.europe-west1.run.app",
		"TRIGGER_PUSH_EMAIL=webhooks-trigger-push@p.iam.gserviceaccount.com"}
	for _, ep := range entryPoints {
		if ep.name != target {
			continue
		}
		// The Go runtime settings the deployed instance runs with.
		runtime := runtimeEnvironment(t, deployArchives(t), target)
		for _, name := range slices.Sorted(maps.Keys(runtime)) {
			env = append(env, name+"="+runtime[name])
		}
	}
	return append(env, "FUNCTION_TARGET="+target, fmt.Sprintf("PORT=%d", port),
		"WEBHOOKS_SECRETS_DIR="+secretsDir, "WEBHOOKS_DATA_DIR="+dataDir, "WEBHOOKS_CONFIG=",
		"GOOGLE_CLOUD_PROJECT=", "BIGQUERY_PROJECT=", "BIGQUERY_EMULATOR_HOST=", "BIGQUERY_STORAGE_EMULATOR_HOST=",
		"PUBSUB_EMULATOR_HOST=", "FIRESTORE_EMULATOR_HOST="), dataDir
}

// delivery is a request an entry point accepts: serves checks it, and the
// cold-start benchmark sends it first.
type delivery struct {
	what     string // for messages
	path     string
	body     []byte
	header   http.Header
	scheme   string // the verify scheme that signs it; "" for a Pub/Sub push
	key      string
	status   int      // the answer when signed
	traces   []string // what its work leaves under WEBHOOKS_DATA_DIR
	untraced []string // what must not be found there (a refused request's work)
}

// deliveryTo returns the request target accepts.
func deliveryTo(target string) (delivery, bool) {
	jsonHeader := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	switch target {
	case "Store":
		return delivery{what: "signed push", path: "/github",
			body:   []byte(`{"ref":"refs/heads/main","repository":{"full_name":"o/r"}}`),
			header: jsonHeader("X-GitHub-Event", "push", "X-GitHub-Delivery", "buildpack-store-1"),
			scheme: "github", key: devKeys["github-webhook-secret"],
			status: http.StatusOK, traces: []string{"buildpack-store-1"}}, true
	case "Relay":
		// An event no rule sends for: verified, then answered 200.
		return delivery{what: "signed Stripe event", path: "/stripe",
			body:   []byte(`{"id":"evt_buildpack_relay","type":"customer.created","data":{"object":{}}}`),
			header: jsonHeader(),
			scheme: "stripe", key: devKeys["stripe-webhook-secret"],
			status: http.StatusOK}, true
	case "Trigger":
		// A push to another branch: verified, no rule runs, 200.
		return delivery{what: "signed push", path: "/github",
			body:   []byte(`{"ref":"refs/heads/feature","deleted":false,"repository":{"full_name":"o/r"}}`),
			header: jsonHeader("X-GitHub-Event", "push", "X-GitHub-Delivery", "buildpack-trigger-1"),
			scheme: "github", key: devKeys["github-webhook-secret"],
			status: http.StatusOK}, true
	case "TriggerWorker":
		// The job an async rule queues, in the body a Pub/Sub push
		// subscription posts to <worker url>/projects/P/topics/T, but
		// posted as an attacker would: unsigned and without the push
		// identity's OIDC token. The worker acknowledges it (204, so
		// Pub/Sub would not redeliver) and does not run it: no Cloud Build
		// action is recorded under the data folder.
		job := []byte(`{"event":{"source":"github","id":"buildpack-worker-1","type":"push","received_at":"2026-01-01T00:00:00Z",` +
			`"payload":{"ref":"refs/heads/main","deleted":false,"after":"abc123","repository":{"full_name":"o/r"},"pusher":{"name":"octocat"}}},` +
			`"rule":"deploy-staging","action":"cloud-build","attempt":1}`)
		push, _ := json.Marshal(map[string]any{
			"message":      map[string]any{"data": job, "messageId": "1", "publishTime": "2026-01-01T00:00:00Z"},
			"subscription": "projects/p/subscriptions/webhooks-trigger-jobs",
		})
		return delivery{what: "forged pushed job", path: "/projects/p/topics/webhooks-trigger-jobs",
			body: push, header: jsonHeader(),
			status: http.StatusNoContent, untraced: []string{"buildpack-worker-1"}}, true
	}
	return delivery{}, false
}

// request returns d addressed to base, signed now with its key when signed
// is set and d has a scheme.
func (d delivery) request(ctx context.Context, base string, signed bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+d.path, bytes.NewReader(d.body))
	if err != nil {
		return nil, err
	}
	req.Header = d.header.Clone()
	if signed && d.scheme != "" {
		if err := verify.Sign(verify.Config{Scheme: d.scheme}, []byte(d.key), time.Now(), req, d.body); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// serves starts bin as Cloud Run starts a function instance and checks
// that it serves target: its delivery is accepted and leaves its trace, and
// the same unsigned is refused; TriggerWorker runs a job pushed the way a
// Pub/Sub push subscription delivers it.
func serves(t *testing.T, target, bin string) {
	t.Helper()
	d, ok := deliveryTo(target)
	if !ok {
		t.Fatalf("no check for %s", target)
	}
	port := testenv.FreePort(t)
	env, dataDir := instanceEnv(t, target, port)
	proc, err := testenv.Start(t, env, bin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := testenv.WaitTCP(ctx, testenv.Addr(port), 30*time.Second); err != nil {
		t.Fatalf("%s did not listen: %v\n%s", target, err, proc.Output())
	}
	post := func(signed bool) (int, string) {
		t.Helper()
		req, err := d.request(ctx, "http://"+testenv.Addr(port), signed)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v\n%s", d.path, err, proc.Output())
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(answer)
	}
	if code, answer := post(true); code != d.status {
		t.Fatalf("%s: %d %s, want %d\n%s", d.what, code, answer, d.status, proc.Output())
	}
	if len(d.traces) > 0 {
		left := readTree(t, dataDir)
		for _, trace := range d.traces {
			if !strings.Contains(left, trace) {
				t.Fatalf("the %s left no %q under the data folder:\n%s\n%s", d.what, trace, left, proc.Output())
			}
		}
	}
	if len(d.untraced) > 0 {
		left := readTree(t, dataDir)
		for _, trace := range d.untraced {
			if strings.Contains(left, trace) {
				t.Fatalf("the %s was run: %q is under the data folder:\n%s", d.what, trace, left)
			}
		}
	}
	if d.scheme != "" {
		if code, _ := post(false); code != http.StatusUnauthorized {
			t.Fatalf("unsigned %s: %d, want 401", d.what, code)
		}
	}
}

// readTree returns the contents of every file under dir.
func readTree(t testing.TB, dir string) string {
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

// BenchmarkColdStart measures what a scale-to-zero function pays at every
// burst: each entry point built from its deploy archive as the buildpack
// builds it, with its build environment, in each build configuration
// (buildConfigs: BenchmarkColdStart/buildpack/Store is the deployed
// binary, static, BenchmarkColdStart/cgo/Store the buildpack's default
// cgo build of the same archive), beside a
// hello-world Functions Framework function built the same way
// (helloWorldSource, with Store's build environment), started as Cloud
// Run starts an instance (instanceEnv). Per start: ms/first-answer, from
// exec until the answer to the first request is read (the request is
// retried every 250 µs while the port refuses connections);
// ms/listening, from exec until that request's connection was accepted,
// so the difference is the request's own work; and MiB-RSS, VmRSS right
// after the answer; each the median of max(b.N, 10) starts.
// x-hello-world is the median first answer over hello-world's, measured
// in the same run with a hello-world start before each start, so that a
// shared machine's changing load weighs on both alike. MB-binary is the
// binary's size in 10^6 bytes. The first request is the entry point's
// delivery, the one serves checks: a signed webhook, verified with a
// secret read on first use, decoded, and stored (Store's local sink, an
// fsynced line) or matched against the rules (Relay, Trigger: none
// sends); TriggerWorker's is a forged pushed job,
// refused (no push token). Hello-world's is a POST / answered "ok".
//
//	go test -run '^$' -bench ColdStart -benchtime 10x .
//
// With WEBHOOKS_BENCH_BIN set to a folder, the buildpack configuration's
// binaries are copied there, named by entry point (bench.sh runs its
// Store load on Store).
func BenchmarkColdStart(b *testing.B) {
	archives := deployArchives(b)
	type subject struct {
		target, source string
		buildEnv       map[string]string
		first          delivery
		bin            string
		size           int64
	}
	subjects := []subject{{target: helloTarget, source: helloWorldSource(b), buildEnv: buildEnvironment(b, archives, "Store"),
		first: delivery{what: "hello-world request", path: "/", status: http.StatusOK}}}
	for _, ep := range entryPoints {
		d, ok := deliveryTo(ep.name)
		if !ok {
			b.Fatalf("no delivery for %s", ep.name)
		}
		subjects = append(subjects, subject{target: ep.name, source: filepath.Join(archives, ep.name+".zip"),
			buildEnv: buildEnvironment(b, archives, ep.name), first: d})
	}
	keep := os.Getenv("WEBHOOKS_BENCH_BIN")
	for _, cfg := range buildConfigs {
		bins := slices.Clone(subjects)
		for i, s := range bins {
			bins[i].bin = buildLikeTheBuildpack(b, cfg, s.buildEnv, s.source, s.target, false).bin
			info, err := os.Stat(bins[i].bin)
			if err != nil {
				b.Fatal(err)
			}
			bins[i].size = info.Size()
			if keep != "" && cfg == buildConfigs[0] {
				data, err := os.ReadFile(bins[i].bin)
				if err == nil {
					err = os.WriteFile(filepath.Join(keep, s.target), data, 0o755)
				}
				if err != nil {
					b.Fatalf("keep the %s binary: %v", s.target, err)
				}
			}
		}
		hello := bins[0]
		b.Run(cfg.name, func(b *testing.B) {
			for _, s := range bins {
				b.Run(s.target, func(b *testing.B) {
					starts := max(b.N, 10)
					var listening, firsts, rss, helloFirsts []float64
					for range starts {
						if s.target != hello.target {
							helloFirsts = append(helloFirsts, ms(coldStart(b, hello.bin, hello.target, hello.first).answered))
						}
						st := coldStart(b, s.bin, s.target, s.first)
						listening, firsts, rss = append(listening, ms(st.listening)), append(firsts, ms(st.answered)), append(rss, st.rssMiB)
					}
					b.ReportMetric(0, "ns/op")
					b.ReportMetric(median(listening), "ms/listening")
					b.ReportMetric(median(firsts), "ms/first-answer")
					if helloFirsts != nil {
						b.ReportMetric(median(firsts)/median(helloFirsts), "x-hello-world")
					}
					b.ReportMetric(median(rss), "MiB-RSS")
					b.ReportMetric(float64(s.size)/1e6, "MB-binary")
				})
			}
		})
	}
}

// start is one cold start: times since exec, and the resident set after
// the first answer.
type start struct {
	listening, answered time.Duration
	rssMiB              float64
}

// coldStart starts bin as an instance serving target and sends d as soon as
// the port accepts it.
func coldStart(b *testing.B, bin, target string, d delivery) start {
	b.Helper()
	port := testenv.FreePort(b)
	env, _ := instanceEnv(b, target, port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var connected time.Time
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{ConnectDone: func(_, _ string, err error) {
		if err == nil {
			connected = time.Now()
		}
	}})
	// A new connection per try, so a refused dial is all that is retried.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	base := "http://" + testenv.Addr(port)

	execed := time.Now()
	proc, err := testenv.Start(b, env, bin)
	if err != nil {
		b.Fatal(err)
	}
	defer proc.Stop()
	for {
		req, err := d.request(ctx, base, true)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := client.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) {
			time.Sleep(250 * time.Microsecond)
			continue
		}
		if err != nil {
			b.Fatalf("%s to %s: %v\n%s", d.what, target, err, proc.Output())
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered := time.Since(execed)
		if err != nil || resp.StatusCode != d.status {
			b.Fatalf("%s to %s: %d %s (%v), want %d\n%s", d.what, target, resp.StatusCode, answer, err, d.status, proc.Output())
		}
		return start{listening: connected.Sub(execed), answered: answered, rssMiB: statusMiB(b, proc.Pid(), "VmRSS")}
	}
}

// statusMiB reads a memory field of /proc/PID/status (VmRSS, VmHWM) in MiB.
func statusMiB(tb testing.TB, pid int, field string) float64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kB, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				tb.Fatalf("/proc/%d/status %s: %v", pid, field, err)
			}
			return kB / 1024
		}
	}
	tb.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// helloTarget is the baseline's entry point.
const helloTarget = "HelloWorld"

// helloWorldSource writes the baseline's upload to a folder: the smallest
// Functions Framework function (a root package whose init registers an
// HTTP function answering "ok"), in its own module requiring the framework
// at this module's version, under this module's go directive.
func helloWorldSource(tb testing.TB) string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "go.mod"))
	if err != nil {
		tb.Fatal(err)
	}
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		tb.Fatal(err)
	}
	i := slices.IndexFunc(f.Require, func(r *modfile.Require) bool { return r.Mod.Path == frameworkModule })
	if i < 0 || f.Go == nil {
		tb.Fatalf("go.mod names no go version or no %s", frameworkModule)
	}
	dir := tb.TempDir()
	files := map[string]string{
		"go.mod": fmt.Sprintf("module example.com/hello\n\ngo %s\n\nrequire %s %s\n", f.Go.Version, frameworkModule, f.Require[i].Mod.Version),
		"hello.go": `// Package hello is the smallest Functions Framework function.
package hello

import (
	"fmt"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
)

func init() { functions.HTTP("` + helloTarget + `", helloWorld) }

func helloWorld(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}
