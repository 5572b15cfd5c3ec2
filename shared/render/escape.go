package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"text/template"
	"text/template/parse"
)

// ParseURL parses the template of a URL that a request is sent to. The
// scheme, host and port must be literal text: an interpolation before the
// path starts is an error, so an event can never choose where the request
// goes. Interpolated values are escaped for where they land, url.PathEscape
// in the path ("/" and "?" included, so a value fills part of one path
// segment) and url.QueryEscape in the query and fragment ("&", "=" and "#"
// included, so a value cannot add parameters). A value already piped to
// urlquery in the query is not escaped twice.
//
//	t, err := render.ParseURL("url", "https://api.example.com/tenants/{{.payload.tenant}}?ref={{.payload.ref}}")
func ParseURL(name, text string) (*Template, error) {
	return parseEscaped(name, text, urlLanguage)
}

// ParseJSON parses the template of a JSON document. An interpolation inside
// a JSON string is escaped as string content; anywhere else it is encoded as
// a JSON value (a string gets its quotes), as the json function does, which
// it may also name explicitly. Either way an event's value stays one JSON
// value: it cannot close a string and add members.
//
//	t, err := render.ParseJSON("body", `{"text": "Push to {{.payload.ref}}", "commit": {{.payload.after}}}`)
func ParseJSON(name, text string) (*Template, error) {
	return parseEscaped(name, text, jsonLanguage)
}

// ParseForm parses the template of an application/x-www-form-urlencoded
// body. Every interpolated value is url.QueryEscape'd ("&", "=" and "+"
// included, so a value stays inside its field and cannot add one); a value
// already piped to urlquery is not escaped twice.
//
//	t, err := render.ParseForm("body", "text=Push+to+{{.payload.ref}}&channel=deploys")
func ParseForm(name, text string) (*Template, error) {
	return parseEscaped(name, text, formLanguage)
}

// ParseChecked parses the template of a field whose every interpolated
// value must pass check, for a field that no escaping fits (an FCM
// condition, a Cloud Build substitution that a build step may place in a
// shell): the value is refused rather than rewritten, so the event cannot
// change the field's meaning. The literal text is the rule's and is not
// checked. Execute fails with ErrRender, naming the template and the
// check's error, when a value does not pass.
//
//	t, err := render.ParseChecked("to.condition", "'team-{{.payload.team}}' in topics", render.Alphabet("an FCM topic name", `a-zA-Z0-9-_.~%`))
func ParseChecked(name, text string, check func(value string) error) (*Template, error) {
	return parseEscapedWith(name, text, checkedLanguage, template.FuncMap{
		"_render_check": func(v any) (string, error) {
			s := printed(v)
			if err := check(s); err != nil {
				return "", err
			}
			return s, nil
		},
	})
}

// Alphabet returns a check for ParseChecked that accepts values made of
// the characters of chars, a regular expression character class body
// ("a-z0-9_-"), and the empty value. what names the alphabet in the error
// ("an FCM topic name").
func Alphabet(what, chars string) func(string) error {
	re := regexp.MustCompile(`^[` + chars + `]*$`)
	return func(v string) error {
		if !re.MatchString(v) {
			return fmt.Errorf("value %s has characters outside %s (%s)", quoteShort(v), what, chars)
		}
		return nil
	}
}

// quoteShort quotes v for an error message, cut to a readable length.
func quoteShort(v string) string {
	const max = 64
	if len(v) > max {
		return strconv.Quote(v[:max]) + "..."
	}
	return strconv.Quote(v)
}

// state is where in a URL or JSON text the output has got to.
type state int

// language is how parseEscaped follows one kind of output.
type language struct {
	// step returns the state after literal text.
	step func(state, string) state
	// escaper returns the function to pipe an interpolation through in
	// state s, "" for none (the pipeline already escapes), or an error
	// when nothing may be interpolated there.
	escaper func(s state, pipe *parse.PipeNode) (string, error)
}

// escapers are the functions parseEscaped appends to pipelines.
var escapers = template.FuncMap{
	"_render_url_path":    func(v any) string { return url.PathEscape(printed(v)) },
	"_render_url_query":   func(v any) string { return url.QueryEscape(printed(v)) },
	"_render_json_value":  jsonValue,
	"_render_json_string": jsonString,
}

// parseEscaped parses text and appends the language's escaper to every
// interpolation, as html/template does for HTML, after following the
// literal text to learn where each interpolation lands.
func parseEscaped(name, text string, lang language) (*Template, error) {
	return parseEscapedWith(name, text, lang, nil)
}

// parseEscapedWith is parseEscaped with more functions for the language's
// escaper to name.
func parseEscapedWith(name, text string, lang language, more template.FuncMap) (*Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Funcs(escapers).Funcs(more).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if t.Tree == nil {
		return &Template{t: t}, nil
	}
	w := walker{lang: lang, tree: t.Tree}
	if _, err := w.walk(0, t.Tree.Root); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return &Template{t: t}, nil
}

// walker follows the output through a template's tree.
type walker struct {
	lang language
	tree *parse.Tree
}

// fail names the node's position in an error.
func (w *walker) fail(n parse.Node, format string, args ...any) error {
	loc, _ := w.tree.ErrorContext(n)
	return fmt.Errorf("%s: %s", loc, fmt.Sprintf(format, args...))
}

// walk returns the state after node n, entered in state s, and escapes its
// interpolations. Branches (if, with, range) must end in one state, or
// what follows them would be escaped for the wrong place.
func (w *walker) walk(s state, n parse.Node) (state, error) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return s, nil
		}
		for _, c := range n.Nodes {
			var err error
			if s, err = w.walk(s, c); err != nil {
				return s, err
			}
		}
		return s, nil
	case *parse.TextNode:
		return w.lang.step(s, string(n.Text)), nil
	case *parse.CommentNode:
		return s, nil
	case *parse.ActionNode:
		if len(n.Pipe.Decl) > 0 {
			return s, nil // an assignment prints nothing
		}
		fn, err := w.lang.escaper(s, n.Pipe)
		if err != nil {
			return s, w.fail(n, "%v", err)
		}
		if fn != "" {
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
				NodeType: parse.NodeCommand,
				Pos:      n.Pos,
				Args:     []parse.Node{parse.NewIdentifier(fn).SetTree(w.tree).SetPos(n.Pos)},
			})
		}
		// An escaped value cannot move the output elsewhere.
		return s, nil
	case *parse.IfNode:
		return w.branches(s, n, n.List, n.ElseList, false)
	case *parse.WithNode:
		return w.branches(s, n, n.List, n.ElseList, false)
	case *parse.RangeNode:
		return w.branches(s, n, n.List, n.ElseList, true)
	default:
		return s, w.fail(n, "%s is not allowed here: the escaping of what follows could not be decided", n)
	}
}

// branches walks the two branches of an if, with or range from s. A range
// body may run any number of times, so it must also end where it began.
func (w *walker) branches(s state, n parse.Node, list, elseList *parse.ListNode, loop bool) (state, error) {
	a, err := w.walk(s, list)
	if err != nil {
		return s, err
	}
	b, err := w.walk(s, elseList)
	if err != nil {
		return s, err
	}
	if a != b || (loop && a != s) {
		return s, w.fail(n, "the branches of %s end in different parts of the text (a quote or URL delimiter opened in one only)", n)
	}
	return a, nil
}

// URL states, in the order a URL's parts come.
const (
	urlScheme    state = iota // before the ':' of "://"
	urlColon                  // after ':'
	urlSlash                  // after ":/"
	urlAuthority              // after "://": user, host, port
	urlPath
	urlQuery
	urlFragment
)

var urlLanguage = language{
	step: func(s state, text string) state {
		for i := 0; i < len(text); i++ {
			c := text[i]
			switch {
			case s == urlScheme && c == ':':
				s = urlColon
			case s == urlColon || s == urlSlash:
				if c != '/' {
					s = urlScheme
				} else {
					s++
				}
			case s == urlAuthority && c == '/':
				s = urlPath
			case s == urlAuthority && c == '?':
				s = urlQuery
			case s == urlAuthority && c == '#':
				s = urlFragment
			case s == urlPath && c == '?':
				s = urlQuery
			case (s == urlPath || s == urlQuery) && c == '#':
				s = urlFragment
			}
		}
		return s
	},
	escaper: func(s state, pipe *parse.PipeNode) (string, error) {
		switch s {
		case urlPath:
			return "_render_url_path", nil
		case urlQuery, urlFragment:
			if lastCommandIs(pipe, "urlquery") {
				return "", nil
			}
			return "_render_url_query", nil
		}
		return "", errors.New("the scheme, host and port must be literal text, not an interpolation, so that the event cannot choose where the request goes; interpolate in the path or query")
	},
}

// JSON states.
const (
	jsonOutside     state = iota // where a value may be
	jsonInString                 // between quotes
	jsonAfterEscape              // after a backslash in a string
)

var jsonLanguage = language{
	step: func(s state, text string) state {
		for i := 0; i < len(text); i++ {
			switch c := text[i]; {
			case s == jsonOutside && c == '"':
				s = jsonInString
			case s == jsonInString && c == '\\':
				s = jsonAfterEscape
			case s == jsonInString && c == '"':
				s = jsonOutside
			case s == jsonAfterEscape:
				s = jsonInString
			}
		}
		return s
	},
	escaper: func(s state, pipe *parse.PipeNode) (string, error) {
		switch s {
		case jsonOutside:
			if lastCommandIs(pipe, "json") {
				return "", nil
			}
			return "_render_json_value", nil
		case jsonInString:
			return "_render_json_string", nil
		}
		return "", errors.New("an interpolation right after a backslash would complete an escape sequence")
	},
}

// formLanguage escapes every interpolation of a form-encoded body as a
// query value: the body has no other place a value can land.
var formLanguage = language{
	step: func(s state, _ string) state { return s },
	escaper: func(_ state, pipe *parse.PipeNode) (string, error) {
		if lastCommandIs(pipe, "urlquery") {
			return "", nil
		}
		return "_render_url_query", nil
	},
}

// checkedLanguage pipes every interpolation through ParseChecked's check.
var checkedLanguage = language{
	step:    func(s state, _ string) state { return s },
	escaper: func(state, *parse.PipeNode) (string, error) { return "_render_check", nil },
}

// lastCommandIs reports whether the pipeline ends by calling the function
// fn, which then does the escaping.
func lastCommandIs(pipe *parse.PipeNode, fn string) bool {
	if len(pipe.Cmds) == 0 {
		return false
	}
	id, ok := pipe.Cmds[len(pipe.Cmds)-1].Args[0].(*parse.IdentifierNode)
	return ok && id.Ident == fn
}

// printed is v as text/template prints it, nothing for a missing value.
func printed(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// jsonValue is v encoded as one JSON value.
func jsonValue(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// jsonString is v printed, then escaped as the content of a JSON string.
func jsonString(v any) (string, error) {
	b, err := json.Marshal(printed(v))
	if err != nil {
		return "", err
	}
	return string(b[1 : len(b)-1]), nil
}
