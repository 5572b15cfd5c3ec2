package render

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/shared/event"
)

// vars are an event's variables whose payload is p.
func vars(t testing.TB, p map[string]any) event.Vars {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := (&event.Event{Source: "src", ID: "evt_1", Payload: b}).Vars()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseURLEscapesValuesForWhereTheyLand(t *testing.T) {
	v := vars(t, map[string]any{"tenant": "127.0.0.1:8080/x#", "ref": "a&admin=1#f", "n": 7, "slash": "octo-org/octo-repo", "tags": []string{"a/b", "c"}})
	tests := []struct{ name, text, want string }{
		{"path", "https://api.example.com/t/{{.payload.tenant}}/hook", "https://api.example.com/t/127.0.0.1:8080%2Fx%23/hook"},
		{"a slash stays in its segment", "https://api.example.com/repos/{{.payload.slash}}", "https://api.example.com/repos/octo-org%2Focto-repo"},
		{"query", "https://api.example.com/hook?ref={{.payload.ref}}&n={{.payload.n}}", "https://api.example.com/hook?ref=a%26admin%3D1%23f&n=7"},
		{"query after an empty path", "https://api.example.com?ref={{.payload.ref}}", "https://api.example.com?ref=a%26admin%3D1%23f"},
		{"urlquery is not applied twice", "https://api.example.com/?ref={{urlquery .payload.ref}}", "https://api.example.com/?ref=a%26admin%3D1%23f"},
		{"fragment", "https://api.example.com/#{{.payload.ref}}", "https://api.example.com/#a%26admin%3D1%23f"},
		{"branches that end alike", "https://api.example.com/{{if .payload.n}}n/{{.payload.n}}{{else}}none{{end}}?id={{.id}}", "https://api.example.com/n/7?id=evt_1"},
		{"a range that ends where it began", "https://api.example.com/{{range .payload.tags}}{{.}}-{{end}}x", "https://api.example.com/a%2Fb-c-x"},
		{"literal", "https://api.example.com/a?b=c", "https://api.example.com/a?b=c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseURL(tt.name, tt.text)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Execute(v)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseURLRefusesAnInterpolatedSchemeHostOrPort(t *testing.T) {
	tests := []struct{ name, text string }{
		{"host prefix", "http://{{.payload.tenant}}.partner.example/hook"},
		{"whole host", "https://{{.payload.host}}/hook"},
		{"port", "https://api.example.com:{{.payload.port}}/hook"},
		{"user info", "https://{{.payload.user}}@api.example.com/hook"},
		{"scheme", "{{.payload.scheme}}://api.example.com/hook"},
		{"everything", "{{.payload.url}}"},
		{"host not yet ended", "https://api.example.com{{.payload.path}}"},
		{"a branch that ends the host in one case only", "https://api.example.com{{if .payload.x}}/a{{end}}/{{.payload.y}}"},
		{"template call", `{{define "h"}}x{{end}}https://api.example.com/{{template "h"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseURL("url", tt.text); err == nil || !strings.Contains(err.Error(), "url") {
				t.Fatalf("ParseURL(%q) = %v, want an error naming the template", tt.text, err)
			}
		})
	}
}

func TestParseJSONKeepsEachValueOneJSONValue(t *testing.T) {
	v := vars(t, map[string]any{"x": `a","admin":true,"b":"`, "n": 2000, "obj": map[string]any{"k": "v"}, "bs": `\`})
	tests := []struct{ name, text, want string }{
		{"in a string", `{"note":"{{.payload.x}}"}`, `{"note":"a\",\"admin\":true,\"b\":\""}`},
		{"a value", `{"note":{{.payload.x}}}`, `{"note":"a\",\"admin\":true,\"b\":\""}`},
		{"a number", `{"n":{{.payload.n}}}`, `{"n":2000}`},
		{"an object", `{"o":{{.payload.obj}}}`, `{"o":{"k":"v"}}`},
		{"json is not applied twice", `{"o":{{json .payload.obj}}}`, `{"o":{"k":"v"}}`},
		{"json inside a string is escaped", `{"o":"{{json .payload.obj}}"}`, `{"o":"{\"k\":\"v\"}"}`},
		{"a backslash", `{"s":"{{.payload.bs}}"}`, `{"s":"\\"}`},
		{"after an escaped quote", `{"s":"say \"{{.payload.x}}\""}`, `{"s":"say \"a\",\"admin\":true,\"b\":\"\""}`},
		{"a key", `{"{{.payload.n}}":1}`, `{"2000":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseJSON(tt.name, tt.text)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Execute(v)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("%s is not JSON", got)
			}
		})
	}
}

func TestParseJSONRefusesWhatItCannotEscape(t *testing.T) {
	tests := []struct{ name, text string }{
		{"after a backslash", `{"s":"\{{.payload.x}}"}`},
		{"a branch that opens a string", `{"s":{{if .payload.x}}"{{end}}{{.payload.x}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseJSON("body", tt.text); err == nil || !strings.Contains(err.Error(), "body") {
				t.Fatalf("ParseJSON(%q) = %v, want an error naming the template", tt.text, err)
			}
		})
	}
}

// FuzzParseJSON checks that no value can add a member to, or break, a JSON
// body: the rendered document has exactly the template's members, holding
// the value.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{"", `a","admin":true,"b":"`, `\`, "\x00\u2028", "\xff", `"}]}`} {
		f.Add(s)
	}
	tmpl, err := ParseJSON("body", `{"in":"{{.payload.x}}","out":{{.payload.x}}}`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, x string) {
		got, err := tmpl.Execute(vars(t, map[string]any{"x": x}))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(got), &doc); err != nil {
			t.Fatalf("%q rendered invalid JSON %s: %v", x, got, err)
		}
		if len(doc) != 2 || doc["in"] != doc["out"] {
			t.Fatalf("%q rendered %s: want members in and out, equal", x, got)
		}
	})
}

// FuzzParseURL checks that no value can change a URL's host or add a path
// segment or query parameter, and that each value reaches the receiver as
// it was.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"", "127.0.0.1:8080/x#", "a&b=c", "../..", "%2F", "?#"} {
		f.Add(s)
	}
	tmpl, err := ParseURL("url", "https://api.example.com/t/{{.payload.x}}/hook?q={{.payload.x}}")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, x string) {
		got, err := tmpl.Execute(vars(t, map[string]any{"x": x}))
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("%q rendered %q: %v", x, got, err)
		}
		q := u.Query()
		segs := strings.Split(u.EscapedPath(), "/")
		if u.Host != "api.example.com" || len(segs) != 4 || len(q) != 1 || u.Fragment != "" {
			t.Fatalf("%q rendered %q: the value changed the URL's structure", x, got)
		}
		// The value as JSON decoding made it (invalid UTF-8 replaced).
		var want string
		b, _ := json.Marshal(x)
		_ = json.Unmarshal(b, &want)
		if seg, err := url.PathUnescape(segs[2]); err != nil || seg != want || q.Get("q") != want {
			t.Fatalf("%q rendered %q: the value did not arrive intact", x, got)
		}
	})
}

func TestParseFormKeepsEachValueInsideItsField(t *testing.T) {
	v := vars(t, map[string]any{"x": "a&admin=true", "sp": "a b+c", "n": 7})
	tests := []struct{ name, text, want string }{
		{"a value cannot add a field", "text={{.payload.x}}&channel=deploys", "text=a%26admin%3Dtrue&channel=deploys"},
		{"spaces and plus", "text={{.payload.sp}}", "text=a+b%2Bc"},
		{"urlquery is not applied twice", "text={{urlquery .payload.x}}", "text=a%26admin%3Dtrue"},
		{"a number", "n={{.payload.n}}", "n=7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseForm("body", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Execute(v)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			form, err := url.ParseQuery(got)
			if err != nil || form.Has("admin") {
				t.Errorf("form %v (%v) has a field the value added", form, err)
			}
		})
	}
}

func TestParseCheckedRefusesAValueOutsideTheAlphabet(t *testing.T) {
	check := Alphabet("a topic name", `a-z0-9-`)
	v := vars(t, map[string]any{"team": "a' in topics || 'all-users", "ok": "ops-1", "n": 7})
	tests := []struct {
		name, text, want string
		refused          bool
	}{
		{"a value of the alphabet", "'team-{{.payload.ok}}' in topics", "'team-ops-1' in topics", false},
		{"literal text is the rule's", "'a' in topics || 'b' in topics", "'a' in topics || 'b' in topics", false},
		{"a number", "'n{{.payload.n}}' in topics", "'n7' in topics", false},
		{"a quote closing the name", "'team-{{.payload.team}}' in topics", "", true},
		{"after a pipeline", `'{{.payload.team | printf "%s"}}' in topics`, "", true},
		{"inside a branch", "{{if .payload.ok}}'{{.payload.team}}' in topics{{end}}", "", true},
		{"in a range", "{{range .payload}}{{.}}{{end}}", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseChecked("to.condition", tt.text, check)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Execute(v)
			if tt.refused {
				if !errors.Is(err, ErrRender) || !strings.Contains(err.Error(), "a topic name") || !strings.Contains(err.Error(), "to.condition") {
					t.Fatalf("Execute = %q, %v; want ErrRender naming the template and the alphabet", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := ParseChecked("x", `{{define "h"}}x{{end}}{{template "h"}}`, check); err == nil {
		t.Error("a template call was accepted: its output would not be checked")
	}
}
