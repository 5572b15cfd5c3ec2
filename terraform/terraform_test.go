// Package terraform_test checks the contracts between the terraform in this
// directory and the rest of the repository, the way a reviewer would:
//
//   - every function the Go code registers is deployed with that entry
//     point, and nothing else is;
//   - each pattern switch (enable_store, ...) gates every resource of its
//     pattern, and a module with every switch off creates nothing;
//   - every Secret Manager secret a source references is readable by that
//     function's service account only, bound per secret, derived from
//     shared/config/webhooks.yaml exactly as the Go code reads it;
//   - only webhook (HTTP) functions are public;
//   - the events table's schema is file() of functions/store/schema.json;
//   - cloudbuild.yaml's steps have ids, pinned images and real paths, its
//     _ENABLE_* switches are checked (true or false) before any step
//     reads them, and no script has a substitution in its text.
//
// `terraform validate` needs the providers, which the registry serves and
// CI cannot reach; these checks parse the files with HCL and evaluate the
// locals that derive grants from the configuration file.
package terraform_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"golang.org/x/mod/semver"
	"sigs.k8s.io/yaml"
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

// patterns maps each pattern switch to its file and configuration section.
var patterns = []struct{ section, file, enable string }{
	{"store", "store.tf", "enable_store"},
	{"relay", "relay.tf", "enable_relay"},
	{"trigger", "trigger.tf", "enable_trigger"},
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

// refs reports whether expr refers to var.<name> for any of names, directly
// or through the locals it uses.
func (m *module) refs(expr hcl.Expression, names []string, seen map[string]bool) bool {
	if expr == nil {
		return false
	}
	for _, tr := range expr.Variables() {
		rootName := tr.RootName()
		if len(tr) < 2 {
			continue
		}
		step, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			continue
		}
		switch rootName {
		case "var":
			if slices.Contains(names, step.Name) {
				return true
			}
		case "local":
			if seen[step.Name] {
				continue
			}
			seen[step.Name] = true
			if m.refs(m.locals[step.Name], names, seen) {
				return true
			}
		}
	}
	return false
}

func gate(b block) hcl.Expression {
	if a, ok := b.body.Attributes["count"]; ok {
		return a.Expr
	}
	if a, ok := b.body.Attributes["for_each"]; ok {
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

func TestSwitchesGateEveryResource(t *testing.T) {
	m := loadModule(t)
	all := []string{"enable_store", "enable_relay", "enable_trigger"}
	for _, b := range m.resources("") {
		g := gate(b)
		if !m.refs(g, all, map[string]bool{}) {
			t.Errorf("%s %s.%s (%s): count/for_each does not depend on a pattern switch, so it exists with every pattern disabled", b.kind, b.typ, b.name, b.file)
		}
		for _, p := range patterns {
			if b.file == p.file && !m.refs(g, []string{p.enable}, map[string]bool{}) {
				t.Errorf("%s.%s in %s: count/for_each does not depend on var.%s", b.typ, b.name, b.file, p.enable)
			}
		}
	}
	// Each webhook function lives in its pattern's file.
	deployed := functionsByEntryPoint(t, m)
	for _, p := range patterns {
		ep := strings.ToUpper(p.section[:1]) + p.section[1:]
		if b, ok := deployed[ep]; ok && b.file != p.file {
			t.Errorf("function %s is in %s, want %s (gated by var.%s)", ep, b.file, p.file, p.enable)
		}
	}
	for _, name := range all {
		if m.variables[name] == nil {
			t.Errorf("variable %s is missing", name)
		}
	}
}

// evalLocals evaluates every local that depends only on variables, paths
// and files (not on resources), with the variables' defaults overridden by
// vars.
func evalLocals(t *testing.T, m *module, vars map[string]cty.Value) map[string]cty.Value {
	t.Helper()
	values := map[string]cty.Value{}
	for name, body := range m.variables {
		if a, ok := body.Attributes["default"]; ok {
			if v, diags := a.Expr.Value(nil); !diags.HasErrors() {
				values[name] = v
			}
		}
	}
	for k, v := range vars {
		values[k] = v
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":  cty.ObjectVal(values),
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(m.dir), "root": cty.StringVal(m.dir)}),
		},
		Functions: functions(),
	}
	locals := map[string]cty.Value{}
	pending := map[string]hcl.Expression{}
	for k, v := range m.locals {
		pending[k] = v
	}
	for progress := true; progress; {
		progress = false
		ctx.Variables["local"] = cty.ObjectVal(locals)
		for name, expr := range pending {
			// Like terraform, evaluate a local only after the locals it
			// uses: try() would otherwise turn a missing one into a default.
			if !depsReady(expr, locals) {
				continue
			}
			v, diags := expr.Value(ctx)
			if diags.HasErrors() {
				continue
			}
			locals[name] = v
			delete(pending, name)
			progress = true
			ctx.Variables["local"] = cty.ObjectVal(locals)
		}
	}
	return locals
}

func depsReady(expr hcl.Expression, locals map[string]cty.Value) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		if step, ok := tr[1].(hcl.TraverseAttr); ok {
			if _, done := locals[step.Name]; !done {
				return false
			}
		}
	}
	return true
}

func functions() map[string]function.Function {
	str := func(impl func(string) (cty.Value, error)) function.Function {
		return function.New(&function.Spec{
			Params: []function.Parameter{{Name: "s", Type: cty.String}},
			Type:   function.StaticReturnType(cty.DynamicPseudoType),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return impl(args[0].AsString())
			},
		})
	}
	return map[string]function.Function{
		"can":        tryfunc.CanFunc,
		"try":        tryfunc.TryFunc,
		"compact":    stdlib.CompactFunc,
		"concat":     stdlib.ConcatFunc,
		"contains":   stdlib.ContainsFunc,
		"distinct":   stdlib.DistinctFunc,
		"flatten":    stdlib.FlattenFunc,
		"join":       stdlib.JoinFunc,
		"keys":       stdlib.KeysFunc,
		"length":     stdlib.LengthFunc,
		"merge":      stdlib.MergeFunc,
		"regex":      stdlib.RegexFunc,
		"setproduct": stdlib.SetProductFunc,
		"split":      stdlib.SplitFunc,
		"trimprefix": stdlib.TrimPrefixFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"startswith": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "s", Type: cty.String}, {Name: "prefix", Type: cty.String}},
			Type:   function.StaticReturnType(cty.Bool),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return cty.BoolVal(strings.HasPrefix(args[0].AsString(), args[1].AsString())), nil
			},
		}),
		"toset": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType}},
			Type: func(args []cty.Value) (cty.Type, error) {
				v, err := convert.Convert(args[0], cty.Set(cty.DynamicPseudoType))
				return v.Type(), err
			},
			Impl: func(args []cty.Value, ty cty.Type) (cty.Value, error) { return convert.Convert(args[0], ty) },
		}),
		"file": str(func(path string) (cty.Value, error) {
			b, err := os.ReadFile(path)
			return cty.StringVal(string(b)), err
		}),
		"yamldecode": str(func(src string) (cty.Value, error) {
			j, err := yaml.YAMLToJSON([]byte(src))
			if err != nil {
				return cty.NilVal, err
			}
			ty, err := ctyjson.ImpliedType(j)
			if err != nil {
				return cty.NilVal, err
			}
			return ctyjson.Unmarshal(j, ty)
		}),
	}
}

const testProject = "test-project"

// expectedGrants derives the secret grants from webhooks.yaml the way the
// Go code reads references: sm:NAME[@VERSION] is NAME in the deployment's
// project, projects/P/secrets/S/... is S in P, env: and file: are not
// Secret Manager. Verify and handshake secrets go to their function; action secrets of
// trigger rules also to the TriggerWorker, which runs async actions.
func expectedGrants(t *testing.T, enabled map[string]bool) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root(t), "shared", "config", "webhooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]struct {
		Sources []struct {
			Name   string `json:"name"`
			Verify struct {
				Secret          string `json:"secret"`
				HandshakeSecret string `json:"handshake_secret"`
			} `json:"verify"`
			Rules json.RawMessage `json:"rules"`
		} `json:"sources"`
	}
	if err := yaml.Unmarshal(src, &cfg); err != nil {
		t.Fatalf("webhooks.yaml: %v", err)
	}
	fullRef := regexp.MustCompile(`^projects/([^/]+)/secrets/([^/]+)`)
	grants := map[string]bool{}
	add := func(principal, ref string) {
		switch {
		case strings.HasPrefix(ref, "sm:"):
			name, _, _ := strings.Cut(strings.TrimPrefix(ref, "sm:"), "@")
			grants[principal+":"+testProject+"/"+name] = true
		case fullRef.MatchString(ref):
			m := fullRef.FindStringSubmatch(ref)
			grants[principal+":"+m[1]+"/"+m[2]] = true
		}
	}
	for _, p := range patterns {
		if !enabled[p.section] {
			continue
		}
		for _, s := range cfg[p.section].Sources {
			add(p.section, s.Verify.Secret)
			add(p.section, s.Verify.HandshakeSecret)
			for _, secret := range actionSecrets(t, s.Rules) {
				add(p.section, secret)
				if p.section == "trigger" {
					add("trigger_worker", secret)
				}
			}
		}
	}
	if enabled["trigger"] {
		// The job key (trigger.tf): Trigger signs jobs, TriggerWorker
		// checks them, nobody else reads it.
		add("trigger", "sm:webhooks-trigger-job-key")
		add("trigger_worker", "sm:webhooks-trigger-job-key")
	}
	return grants
}

// actionSecrets returns rules[].actions[].secret of a source's rules, a list
// or a map of rules.
func actionSecrets(t *testing.T, raw json.RawMessage) []string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	type rule struct {
		Actions []struct {
			Secret string `json:"secret"`
		} `json:"actions"`
	}
	var list []rule
	if err := json.Unmarshal(raw, &list); err != nil {
		var byName map[string]rule
		if err := json.Unmarshal(raw, &byName); err != nil {
			t.Fatalf("rules: neither a list nor a map: %v", err)
		}
		for _, r := range byName {
			list = append(list, r)
		}
	}
	var out []string
	for _, r := range list {
		for _, a := range r.Actions {
			if a.Secret != "" {
				out = append(out, a.Secret)
			}
		}
	}
	return out
}

func keysOf(t *testing.T, v cty.Value) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if v.IsNull() || !v.IsKnown() {
		t.Fatal("null or unknown value")
	}
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		out[k.AsString()] = true
	}
	return out
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestSecretAccessIsPerSecretAndPerFunction(t *testing.T) {
	m := loadModule(t)
	cases := []map[string]bool{
		{"store": true, "relay": true, "trigger": true},
		{"store": true},
		{"relay": true},
		{"trigger": true},
		{},
	}
	for _, enabled := range cases {
		t.Run(fmt.Sprint(sorted(enabled)), func(t *testing.T) {
			vars := map[string]cty.Value{"project_id": cty.StringVal(testProject)}
			for _, p := range patterns {
				vars[p.enable] = cty.BoolVal(enabled[p.section])
			}
			locals := evalLocals(t, m, vars)
			got, ok := locals["secret_grants"]
			if !ok {
				t.Fatal("local.secret_grants could not be evaluated from variables and webhooks.yaml alone")
			}
			gotKeys := keysOf(t, got)
			want := expectedGrants(t, enabled)
			if fmt.Sprint(sorted(gotKeys)) != fmt.Sprint(sorted(want)) {
				t.Errorf("secret grants:\n got %v\nwant %v", sorted(gotKeys), sorted(want))
			}
			// The secrets terraform creates: the grants' secrets of this project.
			wantSecrets := map[string]bool{}
			for k := range want {
				_, ps, _ := strings.Cut(k, ":")
				if project, name, _ := strings.Cut(ps, "/"); project == testProject {
					wantSecrets[name] = true
				}
			}
			if s, ok := locals["secrets"]; !ok || fmt.Sprint(sorted(keysOf(t, s))) != fmt.Sprint(sorted(wantSecrets)) {
				t.Errorf("local.secrets = %#v, want %v", s, sorted(wantSecrets))
			}
		})
	}

	// The accessor binding is per secret, over exactly those grants.
	var accessors int
	for _, b := range m.resources("") {
		role := attr(b.body, "role")
		roleText := ""
		if role != nil {
			if v, diags := role.Value(nil); !diags.HasErrors() && v.Type() == cty.String {
				roleText = v.AsString()
			}
		}
		if b.typ == "google_secret_manager_secret_version" {
			t.Errorf("%s.%s (%s): terraform must never hold secret values", b.typ, b.name, b.file)
		}
		if !strings.HasPrefix(roleText, "roles/secretmanager.") {
			continue
		}
		if b.typ != "google_secret_manager_secret_iam_member" {
			t.Errorf("%s.%s (%s) grants %s beyond one secret: bind Secret Manager roles per secret", b.typ, b.name, b.file, roleText)
			continue
		}
		accessors++
		if roleText != "roles/secretmanager.secretAccessor" {
			t.Errorf("%s.%s grants %s, want roles/secretmanager.secretAccessor", b.typ, b.name, roleText)
		}
		if !isTraversal(gate(b), "local", "secret_grants") {
			t.Errorf("%s.%s: for_each must be local.secret_grants", b.typ, b.name)
		}
	}
	if accessors != 1 {
		t.Errorf("%d secret accessor resources, want exactly one (for_each over local.secret_grants)", accessors)
	}
	for _, b := range m.resources("") {
		if strings.HasPrefix(b.typ, "google_project_iam") || strings.HasPrefix(b.typ, "google_organization_iam") || strings.HasPrefix(b.typ, "google_folder_iam") {
			if r := attr(b.body, "role"); r != nil {
				if v, d := r.Value(nil); !d.HasErrors() && strings.Contains(v.AsString(), "secretmanager") {
					t.Errorf("%s.%s: project-wide Secret Manager role %s", b.typ, b.name, v.AsString())
				}
			}
		}
	}
}

func isTraversal(expr hcl.Expression, names ...string) bool {
	tr, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(tr) != len(names) {
		return false
	}
	for i, step := range tr {
		var name string
		switch s := step.(type) {
		case hcl.TraverseRoot:
			name = s.Name
		case hcl.TraverseAttr:
			name = s.Name
		}
		if name != names[i] {
			return false
		}
	}
	return true
}

func TestEventsTableSchemaIsTheOneFile(t *testing.T) {
	m := loadModule(t)
	locals := evalLocals(t, m, map[string]cty.Value{"project_id": cty.StringVal(testProject)})
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"local": cty.ObjectVal(locals),
			"path":  cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(m.dir)}),
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
		p, diags := call.Args[0].Value(ctx)
		if diags.HasErrors() {
			t.Errorf("%s.%s: schema path: %s", b.typ, b.name, diags.Error())
			continue
		}
		if filepath.Clean(p.AsString()) != schemaPath {
			t.Errorf("%s.%s: schema is file(%q), want %s", b.typ, b.name, p.AsString(), schemaPath)
		}
		if got := literal(t, b, attr(b.body, "time_partitioning", "field")).AsString(); got != "received_at" {
			t.Errorf("partitioned on %s, want received_at", got)
		}
		if got := literal(t, b, attr(b.body, "time_partitioning", "type")).AsString(); got != "DAY" {
			t.Errorf("partitioned by %s, want DAY", got)
		}
		if got := literal(t, b, attr(b.body, "clustering")).GoString(); !strings.Contains(got, `"source"`) || !strings.Contains(got, `"event_type"`) {
			t.Errorf("clustering %s, want source, event_type", got)
		}
	}
	if tables != 1 {
		t.Fatalf("%d google_bigquery_table resources with a schema, want 1", tables)
	}
	// The columns terraform partitions and clusters on exist in the schema.
	src, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatalf("the one table schema: %v", err)
	}
	var fields []struct{ Name, Type string }
	if err := json.Unmarshal(src, &fields); err != nil {
		t.Fatalf("%s is not a BigQuery JSON schema: %v", schemaPath, err)
	}
	types := map[string]string{}
	for _, f := range fields {
		types[f.Name] = strings.ToUpper(f.Type)
	}
	for col, typ := range map[string]string{"received_at": "TIMESTAMP", "source": "STRING", "event_type": "STRING"} {
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

// goStringLiterals returns every string literal of the non-test Go files
// under dirs.
func goStringLiterals(t *testing.T, dirs ...string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				return nil
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						out[s] = true
					}
				}
				return true
			})
			return nil
		})
	}
	return out
}

// The environment contract: what each function reads, set by terraform,
// and read by the Go code under the same names.
func TestFunctionEnvironment(t *testing.T) {
	m := loadModule(t)
	common := []string{"GOOGLE_CLOUD_PROJECT", "LOG_LEVEL"}
	claims := []string{"FIRESTORE_DATABASE", "IDEMPOTENCY_COLLECTION"}
	topics := []string{"TRIGGER_JOBS_TOPIC", "TRIGGER_DEAD_LETTER_TOPIC", "TRIGGER_JOB_KEY"}
	push := []string{"TRIGGER_PUSH_AUDIENCE", "TRIGGER_PUSH_EMAIL"}
	want := map[string][]string{
		"Store":         append([]string{"BIGQUERY_DATASET", "BIGQUERY_TABLE"}, common...),
		"Relay":         append(slices.Clone(claims), common...),
		"Trigger":       append(append(slices.Clone(claims), topics...), common...),
		"TriggerWorker": append(append(append(slices.Clone(claims), topics...), push...), common...),
	}
	r := root(t)
	read := goStringLiterals(t, filepath.Join(r, "functions"), filepath.Join(r, "shared"))
	for ep, b := range functionsByEntryPoint(t, m) {
		expr := attr(b.body, "environment_variables")
		if expr == nil {
			t.Errorf("%s: no environment_variables", ep)
			continue
		}
		got := m.envKeys(expr, map[string]bool{})
		for _, k := range want[ep] {
			if !got[k] {
				t.Errorf("%s: environment_variables lacks %s", ep, k)
			}
		}
		for k := range got {
			if !read[k] {
				t.Errorf("%s: terraform sets %s, but no Go file under functions/ or shared/ names it", ep, k)
			}
		}
	}
}

// Trigger actions get exactly the grants they need: publisher on each
// pubsub action's topic, Cloud Build only when an action uses it.
func TestTriggerActionGrants(t *testing.T) {
	m := loadModule(t)
	locals := evalLocals(t, m, map[string]cty.Value{"project_id": cty.StringVal(testProject), "enable_trigger": cty.True})
	src, err := os.ReadFile(filepath.Join(root(t), "shared", "config", "webhooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Trigger struct {
			Sources []struct {
				Rules json.RawMessage `json:"rules"`
			} `json:"sources"`
		} `json:"trigger"`
	}
	if err := yaml.Unmarshal(src, &cfg); err != nil {
		t.Fatal(err)
	}
	wantTopics := map[string]bool{}
	cloudbuild := false
	for _, s := range cfg.Trigger.Sources {
		if len(s.Rules) == 0 {
			continue
		}
		var rules []struct {
			Actions []struct{ Type, Topic string } `json:"actions"`
		}
		if err := json.Unmarshal(s.Rules, &rules); err != nil {
			continue // a map of rules; actionSecrets covers the secrets
		}
		for _, r := range rules {
			for _, a := range r.Actions {
				switch {
				case a.Type == "cloudbuild":
					cloudbuild = true
				case a.Type == "pubsub" && a.Topic != "":
					topic := a.Topic
					if !strings.HasPrefix(topic, "projects/") {
						topic = "projects/" + testProject + "/topics/" + topic
					}
					wantTopics[topic] = true
				}
			}
		}
	}
	topics, ok := locals["trigger_publish_topics"]
	if !ok {
		t.Fatal("local.trigger_publish_topics could not be evaluated")
	}
	if got := sorted(keysOf(t, topics)); fmt.Sprint(got) != fmt.Sprint(sorted(wantTopics)) {
		t.Errorf("publish topics %v, want %v", got, sorted(wantTopics))
	}
	if got := locals["trigger_uses_cloudbuild"]; !got.RawEquals(cty.BoolVal(cloudbuild)) {
		t.Errorf("trigger_uses_cloudbuild = %#v, want %v", got, cloudbuild)
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
	"google_secret_manager_secret_version":      {"secretmanager.admin"},
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
