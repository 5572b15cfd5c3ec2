package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cloudhooks/webhooks/shared/suggest"
)

// positions maps the YAML path of every key and list item of a file
// ("store.sources[1].verify.scheme") to where it is written.
type positions map[string]position

type position struct{ line, col int }

// index records the position of every key and list item under node.
func (p positions) index(node *yaml.Node, path string) {
	switch node.Kind {
	case yaml.DocumentNode:
		for _, c := range node.Content {
			p.index(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			child := join(path, k.Value)
			p[child] = position{k.Line, k.Column}
			p.index(v, child)
		}
	case yaml.SequenceNode:
		for i, item := range node.Content {
			child := fmt.Sprintf("%s[%d]", path, i)
			p[child] = position{item.Line, item.Column}
			p.index(item, child)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// at returns the position of path, or of its nearest written ancestor
// (a missing field is reported where its parent is).
func (p positions) at(path string) (position, bool) {
	for path != "" {
		if pos, ok := p[path]; ok {
			return pos, true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return position{}, false
}

// fieldPath matches the field path that starts a validation message:
// "verify.scheme: …", "rules[0].to.topic: …".
var fieldPath = regexp.MustCompile(`^[A-Za-z0-9_-]+(\[\d+\])?(\.[A-Za-z0-9_-]+(\[\d+\])?)*: `)

// pathError is a problem at a path that the checks here found, so that
// locate need not read the path back from the text.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// locate turns each message of err (a tree of errors.Join) that starts
// with a field path relative to prefix into "FILE:LINE:COL: PATH: …", the
// form editors and terminals link to the line. A message without a
// leading path is placed at prefix itself.
func (f *File) locate(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var errs []error
	for _, leaf := range leaves(err) {
		var env *EnvError
		if errors.As(leaf, &env) {
			errs = append(errs, leaf) // about the deployment, not the file
			continue
		}
		var pe *pathError
		msg := leaf.Error()
		path, rest := prefix, msg
		switch m := fieldPath.FindString(msg); {
		case errors.As(leaf, &pe) && pe.Error() == msg:
			// Ours: the path is known, whatever characters the key has.
			path, rest = join(prefix, pe.path), pe.err.Error()
		case m != "":
			path, rest = join(prefix, strings.TrimSuffix(m, ": ")), msg[len(m):]
		}
		errs = append(errs, &FieldError{File: f.name, pos: f.pos, Path: path, Err: wrapText(leaf, rest)})
	}
	return errors.Join(errs...)
}

// JoinOnce joins the problems of errs (each flattened out of its
// errors.Join tree), every message once: a problem that several sources
// share, such as a bad environment variable, is reported once.
func JoinOnce(errs ...error) error {
	seen := map[string]bool{}
	var out []error
	for _, err := range errs {
		for _, leaf := range leaves(err) {
			if leaf != nil && !seen[leaf.Error()] {
				seen[leaf.Error()] = true
				out = append(out, leaf)
			}
		}
	}
	return errors.Join(out...)
}

// leaves flattens the errors.Join tree of err.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// wrapText keeps err matchable with errors.Is while its message loses the
// path that FieldError prints.
func wrapText(err error, text string) error {
	if err.Error() == text {
		return err
	}
	return &textError{text: text, err: err}
}

type textError struct {
	text string
	err  error
}

func (e *textError) Error() string { return e.text }
func (e *textError) Unwrap() error { return e.err }

// FieldError is a problem with one field of the configuration file,
// printed as "FILE:LINE:COL: PATH: problem".
type FieldError struct {
	File string // the file's name: the WEBHOOKS_CONFIG path, or the embedded file's
	Path string // the field's YAML path, "store.sources[1].verify.scheme"
	Err  error
	pos  positions
}

func (e *FieldError) Error() string {
	p, ok := e.pos.at(e.Path)
	switch {
	case ok:
		return fmt.Sprintf("%s:%d:%d: %s: %v", e.File, p.line, p.col, e.Path, e.Err)
	case e.Path == "":
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Path, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Located returns err with every message of it that starts with a field
// path of the source's configuration ("verify.scheme: …",
// "rules[2].to: …", as verify and the patterns report them) placed at its
// file, line and column: "webhooks.yaml:14:9:
// store.sources[1].verify.scheme: …". Functions call it on the errors of
// building a source.
func (fn *Function) Located(source int, err error) error {
	if err == nil {
		return nil
	}
	if fn.file == nil { // built in code, not read from a file
		return fmt.Errorf("sources[%d] (%q): %w", source, fn.Sources[source].Name, err)
	}
	return fn.file.locate(fmt.Sprintf("%s.sources[%d]", fn.section, source), err)
}

// checkShape walks the YAML node along t, the Go type it decodes into,
// and reports every key that t has no field for (with the field it
// probably meant) and every value of the wrong kind, each at its path.
// It runs before decoding, so that what reaches the user names the YAML
// field and never the JSON that the YAML is converted to.
func checkShape(node *yaml.Node, path string, t reflect.Type) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return nil
		}
		return checkShape(node.Content[0], path, t)
	}
	if node.Kind == yaml.AliasNode {
		return checkShape(node.Alias, path, t)
	}
	if t == reflect.TypeFor[json.RawMessage]() || (node.Kind == yaml.ScalarNode && node.Tag == "!!null") {
		return nil // rules are the pattern's to check; null is a zero value
	}
	wrongKind := func(want string) []error {
		return []error{&pathError{path, fmt.Errorf("want %s, got %s", want, describe(node))}}
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return wrongKind("a mapping of " + strings.Join(jsonFields(t), ", "))
		}
		fields := fieldTypes(t)
		var errs []error
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, unknownField(join(path, k.Value), k.Value, structFields(t)))
				continue
			}
			errs = append(errs, checkShape(v, join(path, k.Value), ft)...)
		}
		return errs
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			return wrongKind("a list")
		}
		var errs []error
		for i, item := range node.Content {
			errs = append(errs, checkShape(item, fmt.Sprintf("%s[%d]", path, i), t.Elem())...)
		}
		return errs
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			return wrongKind("a mapping")
		}
		var errs []error
		for i := 0; i+1 < len(node.Content); i += 2 {
			errs = append(errs, checkShape(node.Content[i+1], join(path, node.Content[i].Value), t.Elem())...)
		}
		return errs
	case reflect.String:
		if node.Kind != yaml.ScalarNode || node.Tag != "!!str" {
			return wrongKind("a string (quote it)")
		}
	case reflect.Int, reflect.Int64:
		if node.Kind != yaml.ScalarNode || node.Tag != "!!int" {
			return wrongKind("a whole number")
		}
	case reflect.Bool:
		if node.Kind != yaml.ScalarNode || node.Tag != "!!bool" {
			return wrongKind("true or false")
		}
	}
	return nil
}

// describe names what a YAML node is, for "want …, got …".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func jsonFields(t reflect.Type) []string {
	var names []string
	for _, f := range structFields(t) {
		names = append(names, f.name)
	}
	return names
}

// unknownField reports a key that its mapping has no field for, with the
// field it was renamed to (a `was` tag) or, failing that, the known field
// it is closest to when that is a likely typo.
func unknownField(path, key string, known []field) error {
	names := make([]string, 0, len(known))
	for _, f := range known {
		if slices.Contains(f.was, key) {
			return &pathError{path, fmt.Errorf("unknown field; did you mean %q? (%q is the old spelling)", f.name, key)}
		}
		names = append(names, f.name)
	}
	if m := suggest.Closest(key, names); m != "" {
		return &pathError{path, fmt.Errorf("unknown field; did you mean %q?", m)}
	}
	slices.Sort(names)
	return &pathError{path, fmt.Errorf("unknown field (known: %s)", strings.Join(names, ", "))}
}
