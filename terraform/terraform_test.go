// Package terraform_test checks what `terraform test` cannot say: the
// contracts between the terraform in this directory and the rest of the
// repository, which no plan of the module sees.
//
//   - every function the Go code registers is deployed with that entry
//     point, public exactly when it is a webhook target, and nothing else
//     is deployed;
//   - the events table's schema is file() of the one schema the Go code
//     embeds (functions/store/schema.json), partitioned and clustered on
//     the Go code's columns;
//   - each function's environment is exactly the variables the Go code
//     reads, named by its constants;
//   - cloudbuild.yaml's steps have ids, pinned images and real paths, its
//     _ENABLE_* switches are checked (true or false) before any step
//     reads them, and no script has a substitution in its text;
//   - the README's deployer is granted a role for every resource type;
//   - providers are bounded on both sides.
//
// What the module plans (the pattern switches, secret grants, public and
// private functions, archives, settings checks) is tested by
// `terraform test` against the real provider schema (tests/*.tftest.hcl),
// which CI runs with `terraform validate`.
package terraform_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/mod/semver"
	"sigs.k8s.io/yaml"

	"github.com/cloudhooks/webhooks/functions/relay"
	"github.com/cloudhooks/webhooks/functions/store"
	"github.com/cloudhooks/webhooks/functions/trigger"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/logging"
)

// root is the repository root; WEBHOOKS_REPO_ROOT points the checks at
// another checkout (used to try them against a broken copy).
func root(t *testing.T) string {
	t.Helper()
	if r := os.Getenv("WEBHOOKS_REPO_ROOT"); r != "" {
		return r
	}
	r, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type block struct {
	kind, typ, name, file string
	body                  *hclsyntax.Body
}

type module struct {
	dir       string
	blocks    []block
	locals    map[string]hcl.Expression
	variables map[string]*hclsyntax.Body
}

func loadModule(t *testing.T) *module {
	t.Helper()
	dir := filepath.Join(root(t), "terraform")
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no terraform files in %s: %v", dir, err)
	}
	m := &module{dir: dir, locals: map[string]hcl.Expression{}, variables: map[string]*hclsyntax.Body{}}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", path, diags.Error())
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			blk := block{kind: b.Type, file: filepath.Base(path), body: b.Body}
			switch b.Type {
			case "resource", "data":
				blk.typ, blk.name = b.Labels[0], b.Labels[1]
			case "module":
				blk.name = b.Labels[0]
			case "variable":
				m.variables[b.Labels[0]] = b.Body
			case "locals":
				for name, attr := range b.Body.Attributes {
					if _, dup := m.locals[name]; dup {
						t.Errorf("local.%s is defined twice", name)
					}
					m.locals[name] = attr.Expr
				}
			}
			m.blocks = append(m.blocks, blk)
		}
	}
	return m
}

func (m *module) resources(typ string) []block {
	var out []block
	for _, b := range m.blocks {
		if (b.kind == "resource" || b.kind == "data") && (typ == "" || b.typ == typ) {
			out = append(out, b)
		}
	}
	return out
}

// literal evaluates an expression that must be constant.
func literal(t *testing.T, b block, expr hcl.Expression) cty.Value {
	t.Helper()
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("%s.%s (%s): not a literal: %s", b.typ, b.name, b.file, diags.Error())
	}
	return v
}

func attr(body *hclsyntax.Body, path ...string) hcl.Expression {
	for _, name := range path[:len(path)-1] {
		var next *hclsyntax.Body
		for _, b := range body.Blocks {
			if b.Type == name {
				next = b.Body
				break
			}
		}
		if next == nil {
			return nil
		}
		body = next
	}
	if a, ok := body.Attributes[path[len(path)-1]]; ok {
		return a.Expr
	}
	return nil
}

// registration is a function the Go code registers with the Functions
// Framework, directly or through pipeline.Register.
type registration struct {
	name, kind, pos string
}

func registrations(t *testing.T) map[string]registration {
	t.Helper()
	dir := filepath.Join(root(t), "functions")
	found := map[string]registration{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			var kind string
			switch {
			case pkg.Name == "pipeline" && sel.Sel.Name == "Register":
				kind = "webhook"
			case pkg.Name == "functions" && sel.Sel.Name == "HTTP":
				kind = "http"
			case pkg.Name == "functions" && sel.Sel.Name == "CloudEvent":
				kind = "cloudevent"
			default:
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: %s.%s with a non-literal name: the deployment cannot be checked", fset.Position(call.Pos()), pkg.Name, sel.Sel.Name)
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			found[name] = registration{name: name, kind: kind, pos: fset.Position(call.Pos()).String()}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", dir, err)
	}
	return found
}

// functionsByEntryPoint returns the instances of the function module
// (modules/function) by their literal entry point.
func functionsByEntryPoint(t *testing.T, m *module) map[string]block {
	t.Helper()
	out := map[string]block{}
	for _, b := range m.blocks {
		if b.kind != "module" || literal(t, b, attr(b.body, "source")).AsString() != "./modules/function" {
			continue
		}
		ep := literal(t, b, attr(b.body, "entry_point")).AsString()
		if prev, dup := out[ep]; dup {
			t.Errorf("entry point %s deployed twice: module.%s and module.%s", ep, prev.name, b.name)
		}
		out[ep] = b
	}
	return out
}

// Every registered function is deployed with its entry point, public
// exactly when it is a webhook target (pipeline.Register): an HTTP
// function of our own (TriggerWorker, fed by a Pub/Sub push) is private
// like a CloudEvent one. terraform test (tests/patterns.tftest.hcl) checks
// what the module makes of that.
func TestEveryRegisteredFunctionIsDeployed(t *testing.T) {
	m := loadModule(t)
	regs := registrations(t)
	deployed := functionsByEntryPoint(t, m)
	for name, r := range regs {
		b, ok := deployed[name]
		if !ok {
			t.Errorf("%s registers %q (%s) but no module \"./modules/function\" has entry_point %q", r.pos, name, r.kind, name)
			continue
		}
		if public := literal(t, b, attr(b.body, "public")).True(); public != (r.kind == "webhook") {
			t.Errorf("%s (%s function): public = %v, want %v", name, r.kind, public, r.kind == "webhook")
		}
	}
	for name, b := range deployed {
		if _, ok := regs[name]; !ok {
			t.Errorf("module.%s (%s) deploys entry point %q, which no Go file under functions/ registers", b.name, b.file, name)
		}
	}
}

// The events table is created from the schema file the Store embeds
// (schema.go), partitioned and clustered on the columns the Store names.
func TestEventsTableSchemaIsTheOneFile(t *testing.T) {
	m := loadModule(t)
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(m.dir)}),
		},
	}
	schemaPath := filepath.Join(root(t), "functions", "store", "schema.json")
	var tables int
	for _, b := range m.resources("google_bigquery_table") {
		schema := attr(b.body, "schema")
		if schema == nil {
			continue
		}
		tables++
		call, ok := schema.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "file" || len(call.Args) != 1 {
			t.Errorf("%s.%s: schema must be file() of functions/store/schema.json, the one schema", b.typ, b.name)
			continue
		}
		var arg hcl.Expression = call.Args[0]
		// file(local.NAME): the local's own expression, which may only use
		// path.module.
		if tr, diags := hcl.AbsTraversalForExpr(arg); !diags.HasErrors() && tr.RootName() == "local" && len(tr) == 2 {
			if step, ok := tr[1].(hcl.TraverseAttr); ok && m.locals[step.Name] != nil {
				arg = m.locals[step.Name]
			}
		}
		p, diags := arg.Value(ctx)
		if diags.HasErrors() {
			t.Errorf("%s.%s: schema path: %s", b.typ, b.name, diags.Error())
			continue
		}
		if filepath.Clean(p.AsString()) != schemaPath {
			t.Errorf("%s.%s: schema is file(%q), want %s", b.typ, b.name, p.AsString(), schemaPath)
		}
		if got := literal(t, b, attr(b.body, "time_partitioning", "field")).AsString(); got != store.PartitionField {
			t.Errorf("partitioned on %s, want store.PartitionField %s", got, store.PartitionField)
		}
		if got := literal(t, b, attr(b.body, "time_partitioning", "type")).AsString(); got != string(store.PartitionType) {
			t.Errorf("partitioned by %s, want store.PartitionType %s", got, store.PartitionType)
		}
		var clustering []string
		for it := literal(t, b, attr(b.body, "clustering")).ElementIterator(); it.Next(); {
			_, v := it.Element()
			clustering = append(clustering, v.AsString())
		}
		if !slices.Equal(clustering, store.ClusteringFields()) {
			t.Errorf("clustering %q, want store.ClusteringFields() %q", clustering, store.ClusteringFields())
		}
	}
	if tables != 1 {
		t.Fatalf("%d google_bigquery_table resources with a schema, want 1", tables)
	}
	// The columns terraform partitions and clusters on are in the schema
	// as the Store parses it.
	schema, err := store.Schema()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bigquery.FieldType{}
	for _, f := range schema {
		types[f.Name] = f.Type
	}
	want := map[string]bigquery.FieldType{store.PartitionField: bigquery.TimestampFieldType}
	for _, col := range store.ClusteringFields() {
		want[col] = bigquery.StringFieldType
	}
	for col, typ := range want {
		if types[col] != typ {
			t.Errorf("schema.json: column %s is %q, want %s (terraform partitions or clusters on it)", col, types[col], typ)
		}
	}
	view, err := os.ReadFile(filepath.Join(root(t), "functions", "store", "dedup_view.sql"))
	if err != nil {
		t.Fatalf("dedup view: %v", err)
	}
	if !strings.Contains(string(view), "${table}") {
		t.Errorf("functions/store/dedup_view.sql has no ${table} placeholder for templatefile()")
	}
}

func TestProvidersAreBoundedOnBothSides(t *testing.T) {
	m := loadModule(t)
	for _, b := range m.blocks {
		if b.kind != "terraform" {
			continue
		}
		for _, rp := range b.body.Blocks {
			if rp.Type != "required_providers" {
				continue
			}
			for name, a := range rp.Body.Attributes {
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() {
					t.Fatal(diags.Error())
				}
				version := v.GetAttr("version").AsString()
				if !strings.Contains(version, ">") || !strings.Contains(version, "<") {
					t.Errorf("provider %s: version %q is not bounded on both sides", name, version)
				}
			}
		}
	}
}

func TestCloudBuild(t *testing.T) {
	r := root(t)
	src, err := os.ReadFile(filepath.Join(r, "cloudbuild.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cb struct {
		Steps []struct {
			ID         string   `json:"id"`
			Name       string   `json:"name"`
			Dir        string   `json:"dir"`
			Args       []string `json:"args"`
			Entrypoint string   `json:"entrypoint"`
			WaitFor    []string `json:"waitFor"`
		} `json:"steps"`
		Substitutions map[string]string `json:"substitutions"`
	}
	if err := yaml.Unmarshal(src, &cb); err != nil {
		t.Fatal(err)
	}
	if len(cb.Steps) == 0 {
		t.Fatal("cloudbuild.yaml has no steps")
	}
	goMod, err := os.ReadFile(filepath.Join(r, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(goMod)[1]
	pinned := regexp.MustCompile(`^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$`)
	ids := map[string]bool{}
	for i, s := range cb.Steps {
		where := fmt.Sprintf("step %d (%s)", i, s.ID)
		if s.ID == "" {
			t.Errorf("%s: no id", where)
		}
		if ids[s.ID] {
			t.Errorf("%s: duplicate id", where)
		}
		for _, w := range s.WaitFor {
			if w != "-" && !ids[w] {
				t.Errorf("%s: waitFor %q is not an earlier step", where, w)
			}
		}
		ids[s.ID] = true
		m := pinned.FindStringSubmatch(s.Name)
		if m == nil || (m[1] == "" && m[2] == "") {
			t.Errorf("%s: image %q is not pinned to an exact version or digest", where, s.Name)
		}
		if v, ok := strings.CutPrefix(s.Name, "golang:"); ok {
			v, _, _ = strings.Cut(v, "-")
			if semver.Compare("v"+v, "v"+string(goVersion)) < 0 {
				t.Errorf("%s: image %s is older than go.mod's go %s", where, s.Name, goVersion)
			}
		}
		if s.Dir != "" {
			if _, err := os.Stat(filepath.Join(r, s.Dir)); err != nil {
				t.Errorf("%s: dir %s: %v", where, s.Dir, err)
			}
		}
		for _, a := range s.Args {
			for _, field := range strings.Fields(a) {
				if p, ok := strings.CutPrefix(field, "-chdir="); ok {
					if _, err := os.Stat(filepath.Join(r, s.Dir, p)); err != nil {
						t.Errorf("%s: %s: %v", where, field, err)
					}
				}
				if strings.HasPrefix(field, "./") || strings.HasPrefix(field, ".ci/") {
					p := strings.TrimSuffix(strings.TrimSuffix(field, "..."), "/")
					if _, err := os.Stat(filepath.Join(r, s.Dir, p)); err != nil {
						t.Errorf("%s: path %s: %v", where, field, err)
					}
				}
			}
		}
	}
	used := regexp.MustCompile(`\$\{?(_[A-Z0-9_]+)`).FindAllSubmatch(src, -1)
	for _, u := range used {
		if _, ok := cb.Substitutions[string(u[1])]; !ok {
			t.Errorf("substitution %s is used but has no default in substitutions:", u[1])
		}
	}
	for _, want := range []string{"_REGION", "_STATE_BUCKET", "_ENABLE_STORE", "_ENABLE_RELAY", "_ENABLE_TRIGGER"} {
		if _, ok := cb.Substitutions[want]; !ok {
			t.Errorf("substitutions: %s missing", want)
		}
	}
}

// cloudBuildStep is a step of cloudbuild.yaml as Cloud Build reads it.
type cloudBuildStep struct {
	ID         string   `json:"id"`
	Entrypoint string   `json:"entrypoint"`
	Env        []string `json:"env"`
	Args       []string `json:"args"`
	WaitFor    []string `json:"waitFor"`
}

// substitution is a Cloud Build substitution in text: one "$" (Cloud
// Build reads "$$" as a literal "$") then a name, braced or not.
var substitution = regexp.MustCompile(`(^|[^$])(\$\$)*\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)`)

// substitute fills text as Cloud Build does: each substitution from subs,
// then "$$" becomes "$".
func substitute(text string, subs map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] != '$' {
			b.WriteByte(text[i])
			continue
		}
		if i+1 < len(text) && text[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		rest := text[i+1:]
		name, n := "", 0
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			name, n = rest[1:end], end+1
		} else {
			m := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`).FindString(rest)
			name, n = m, len(m)
		}
		b.WriteString(subs[name])
		i += n
	}
	return b.String()
}

// TestCloudBuildSwitchesAreCheckedAndReachScriptsAsEnvironment performs
// the substitution injection on cloudbuild.yaml: a switch such as
// _ENABLE_TRIGGER='true" ]; then curl evil; fi; if [ "' must not become
// script text, and must stop the build before anything is deployed. No
// shell script has a substitution in its text (values come in through
// env:), and the check-substitutions step, which every step that reads a
// switch waits for, refuses every _ENABLE_* value but true and false: the
// test runs its script with bash as Cloud Build would.
func TestCloudBuildSwitchesAreCheckedAndReachScriptsAsEnvironment(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root(t), "cloudbuild.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cb struct {
		Steps         []cloudBuildStep  `json:"steps"`
		Substitutions map[string]string `json:"substitutions"`
	}
	if err := yaml.Unmarshal(src, &cb); err != nil {
		t.Fatal(err)
	}
	byID := map[string]cloudBuildStep{}
	for _, s := range cb.Steps {
		byID[s.ID] = s
		if s.Entrypoint != "bash" && s.Entrypoint != "sh" {
			continue
		}
		for i, a := range s.Args {
			if i > 0 && s.Args[i-1] == "-c" {
				if m := substitution.FindStringSubmatch(a); m != nil {
					t.Errorf("step %s: its script has the substitution $%s in its text: pass it as env: and read the variable", s.ID, m[3])
				}
			}
		}
	}
	check, ok := byID["check-substitutions"]
	if !ok {
		t.Fatal("cloudbuild.yaml has no check-substitutions step")
	}
	var waitsFor func(id string, seen map[string]bool) bool
	waitsFor = func(id string, seen map[string]bool) bool {
		if id == check.ID {
			return true
		}
		if seen[id] {
			return false
		}
		seen[id] = true
		for _, w := range byID[id].WaitFor {
			if w != "-" && waitsFor(w, seen) {
				return true
			}
		}
		return false
	}
	var switches []string
	for k := range cb.Substitutions {
		if strings.HasPrefix(k, "_ENABLE_") {
			switches = append(switches, k)
		}
	}
	sort.Strings(switches)
	for _, s := range cb.Steps {
		if s.ID == check.ID {
			continue
		}
		text := strings.Join(append(append([]string{}, s.Env...), s.Args...), "\n")
		for _, sw := range switches {
			if strings.Contains(text, sw) && !waitsFor(s.ID, map[string]bool{}) {
				t.Errorf("step %s reads %s but does not wait for %s", s.ID, sw, check.ID)
			}
		}
	}

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to run the check with")
	}
	if len(check.Args) != 2 || check.Args[0] != "-c" || check.Entrypoint != "bash" {
		t.Fatalf("check-substitutions: want entrypoint bash and args [-c, script], got %q %q", check.Entrypoint, check.Args)
	}
	run := func(subs map[string]string) error {
		all := map[string]string{}
		for k, v := range cb.Substitutions {
			all[k] = v
		}
		for k, v := range subs {
			all[k] = v
		}
		cmd := exec.Command(bash, "-c", substitute(check.Args[1], all))
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for _, e := range check.Env {
			cmd.Env = append(cmd.Env, substitute(e, all))
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	for _, sw := range switches {
		for _, bad := range []string{"", "yes", "TRUE", "1", "true ", "true; touch pwned", `true" ]; then touch pwned; fi; if [ "`, "$(touch pwned)"} {
			if err := run(map[string]string{sw: bad}); err == nil {
				t.Errorf("%s=%q: the build goes on, want it refused", sw, bad)
			}
		}
		for _, good := range []string{"true", "false"} {
			if err := run(map[string]string{sw: good}); err != nil {
				t.Errorf("%s=%q: refused: %v", sw, good, err)
			}
		}
	}
	if _, err := os.Stat("pwned"); err == nil {
		os.Remove("pwned")
		t.Error("a switch's value ran as a command")
	}
}

// envKeys collects the keys of the object constructors in expr, following
// local.* references (environment_variables = merge(local.common_env, {...})).
func (m *module) envKeys(expr hcl.Expression, seen map[string]bool) map[string]bool {
	keys := map[string]bool{}
	syn, ok := expr.(hclsyntax.Expression)
	if !ok {
		return keys
	}
	hclsyntax.VisitAll(syn, func(n hclsyntax.Node) hcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.ObjectConsExpr:
			for _, item := range e.Items {
				if k, diags := item.KeyExpr.Value(nil); !diags.HasErrors() && k.Type() == cty.String {
					keys[k.AsString()] = true
				}
			}
		case *hclsyntax.ScopeTraversalExpr:
			if e.Traversal.RootName() == "local" && len(e.Traversal) > 1 {
				if step, ok := e.Traversal[1].(hcl.TraverseAttr); ok && !seen[step.Name] && m.locals[step.Name] != nil {
					seen[step.Name] = true
					for k := range m.envKeys(m.locals[step.Name], seen) {
						keys[k] = true
					}
				}
			}
		}
		return nil
	})
	return keys
}

// The environment contract: terraform sets each function exactly the
// variables its Go code reads in production, named by the Go constants.
func TestFunctionEnvironment(t *testing.T) {
	m := loadModule(t)
	claims := []string{idempotency.EnvDatabase, idempotency.EnvCollection}
	jobs := []string{trigger.EnvJobsTopic, trigger.EnvDeadLetterTopic, trigger.EnvJobKey}
	want := map[string][]string{
		"Store":         {store.EnvCloudProject, logging.EnvLevel, store.EnvDataset, store.EnvTable, store.EnvPayloadBucket},
		"Relay":         slices.Concat([]string{relay.EnvProject, logging.EnvLevel, relay.EnvFirebaseProject}, claims),
		"Trigger":       slices.Concat([]string{trigger.EnvProject, logging.EnvLevel}, claims, jobs),
		"TriggerWorker": slices.Concat([]string{trigger.EnvProject, logging.EnvLevel, trigger.EnvPushAudience, trigger.EnvPushEmail}, claims, jobs),
	}
	deployed := functionsByEntryPoint(t, m)
	for ep, names := range want {
		b, ok := deployed[ep]
		if !ok {
			t.Errorf("%s is not deployed", ep)
			continue
		}
		expr := attr(b.body, "environment_variables")
		if expr == nil {
			t.Errorf("%s: no environment_variables", ep)
			continue
		}
		got := slices.Sorted(maps.Keys(m.envKeys(expr, map[string]bool{})))
		if names = slices.Sorted(slices.Values(names)); !slices.Equal(got, names) {
			t.Errorf("%s: terraform sets %q, the Go code reads %q", ep, got, names)
		}
	}
	for ep := range deployed {
		if want[ep] == nil {
			t.Errorf("%s: deployed, but this test does not say what it reads", ep)
		}
	}
}

// deployerRoles is what the deployer needs to create each resource type
// terraform declares, from Google's IAM documentation of each resource's
// create and setIamPolicy permissions. A resource type missing here fails
// the test, so a new one cannot ship without its role in the README.
var deployerRoles = map[string][]string{
	"google_bigquery_dataset":                {"bigquery.admin"},
	"google_bigquery_dataset_iam_member":     {"bigquery.admin"},
	"google_bigquery_routine":                {"bigquery.admin"},
	"google_bigquery_table":                  {"bigquery.admin"},
	"google_cloud_run_v2_service_iam_member": {"run.admin"},
	// Deploying a function that runs as a service account needs actAs.
	"google_cloudfunctions2_function":           {"cloudfunctions.admin", "iam.serviceAccountUser"},
	"google_firestore_database":                 {"datastore.owner"},
	"google_firestore_field":                    {"datastore.owner"},
	"google_logging_metric":                     {"logging.configWriter"},
	"google_monitoring_alert_policy":            {"monitoring.editor"},
	"google_monitoring_dashboard":               {"monitoring.editor"},
	"google_project_iam_custom_role":            {"iam.roleAdmin"},
	"google_project_iam_member":                 {"resourcemanager.projectIamAdmin"},
	"google_project_service":                    {"serviceusage.serviceUsageAdmin"},
	"google_pubsub_subscription":                {"pubsub.admin"},
	"google_pubsub_subscription_iam_member":     {"pubsub.admin"},
	"google_pubsub_topic":                       {"pubsub.admin"},
	"google_pubsub_topic_iam_member":            {"pubsub.admin"},
	"google_secret_manager_secret":              {"secretmanager.admin"},
	"google_secret_manager_secret_iam_member":   {"secretmanager.admin"},
	"google_service_account":                    {"iam.serviceAccountAdmin"},
	"google_service_account_iam_member":         {"iam.serviceAccountAdmin"},
	"google_storage_bucket":                     {"storage.admin"},
	"google_storage_bucket_iam_member":          {"storage.admin"},
	"google_storage_bucket_object":              {"storage.admin"},
	"google_cloudbuild_trigger":                 {"cloudbuild.builds.editor"},
	"google_kms_crypto_key_iam_member":          {"cloudkms.admin"}, // only with a CMEK key: documented beside the loop
	"google_project_iam_custom_role_iam_member": {"iam.roleAdmin"},
}

// The first apply on a fresh project must not fail for a permission the
// README's deployer lacks (it did: the Store's custom role needs
// iam.roleAdmin, which none of the 14 documented roles carries).
func TestDeployerRolesCoverEveryResource(t *testing.T) {
	r := root(t)
	readme, err := os.ReadFile(filepath.Join(r, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	loop := regexp.MustCompile(`(?s)for role in (.*?); do`).FindSubmatch(readme)
	if loop == nil {
		t.Fatal("README.md has no `for role in …; do` deployer loop")
	}
	documented := map[string]bool{}
	for _, role := range strings.Fields(strings.ReplaceAll(string(loop[1]), "\\", " ")) {
		documented[role] = true
	}
	resource := regexp.MustCompile(`(?m)^resource "(google_[a-z0-9_]+)"`)
	err = filepath.WalkDir(filepath.Join(r, "terraform"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".tf") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range resource.FindAllSubmatch(src, -1) {
			typ := string(m[1])
			if typ == "google_secret_manager_secret_version" {
				t.Errorf("%s: %s: terraform must never hold secret values", path, typ)
				continue
			}
			roles, ok := deployerRoles[typ]
			if !ok {
				t.Errorf("%s: resource type %s has no deployer role in this test's table", path, typ)
				continue
			}
			for _, role := range roles {
				// A role needed only with an optional setting is named beside
				// the loop instead of granted by it.
				optional := role == "cloudkms.admin" && strings.Contains(string(readme), "roles/cloudkms.admin")
				if !documented[role] && !optional {
					t.Errorf("%s: %s needs roles/%s, which the README's deployer is not given", path, typ, role)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Settings must reach the Cloud Build deploy: *.tfvars is git-ignored, so
// gcloud builds submit never uploaded one, and cloudbuild.yaml passes only
// the project, region and switches, so notification_channels could not be
// set and the alerts notified nobody. deploy.auto.tfvars.json is committed,
// uploaded, and read by the plan step's terraform (it runs in terraform/).
func TestDeploySettingsReachCloudBuild(t *testing.T) {
	r := root(t)
	path := filepath.Join(r, "terraform", "deploy.auto.tfvars.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no committed settings file for the Cloud Build deploy: %v", err)
	}
	var settings map[string]json.RawMessage
	if err := json.Unmarshal(b, &settings); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	vars, err := os.ReadFile(filepath.Join(r, "terraform", "variables.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range settings {
		if !strings.Contains(string(vars), `variable "`+k+`"`) {
			t.Errorf("%s sets %s, which terraform does not declare", path, k)
		}
	}
	if _, ok := settings["notification_channels"]; !ok {
		t.Errorf("%s does not show notification_channels, the setting the alerts need", path)
	}
	ignore := exec.Command("git", "-C", r, "check-ignore", "-q", "terraform/deploy.auto.tfvars.json")
	if ignore.Run() == nil {
		t.Errorf("git ignores terraform/deploy.auto.tfvars.json, so gcloud builds submit would not upload it")
	}
	build, err := os.ReadFile(filepath.Join(r, "cloudbuild.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?s)id: plan.*?-chdir=terraform`).Match(build) {
		t.Error("cloudbuild.yaml's plan step does not run in terraform/, where the settings file is read")
	}
}
