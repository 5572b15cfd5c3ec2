package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateRefusesWhatHasTwoReadings(t *testing.T) {
	tests := []struct {
		name string
		data string
		want error // nil: accepted
	}{
		{"object", `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, nil},
		{"scalars at the top", ` "x" `, nil},
		{"numbers", `[0,-0,1.5,-2e10,3E+2,4e-1,120]`, nil},
		{"escapes and a surrogate pair", `["\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]`, nil},
		{"UTF-8 text", `{"café":"日本"}`, nil},
		{"U+FFFD written as such", "[\"\xef\xbf\xbd\"]", nil},
		{"same name in different objects", `{"a":{"a":1},"b":{"a":2}}`, nil},
		{"same name in sibling objects of an array", `[{"a":1},{"a":2}]`, nil},
		{"duplicate at the top", `{"ref":"refs/heads/main","ref":"refs/heads/evil"}`, ErrDuplicateName},
		{"duplicate nested", `{"a":[{"x":1,"y":2,"x":3}]}`, ErrDuplicateName},
		{"duplicate written with an escape", `{"a":1,"\u0061":2}`, ErrDuplicateName},
		{"duplicate in a large object", `{` + manyNames(40) + `,"n7":0}`, ErrDuplicateName},
		{"large object without duplicates", `{` + manyNames(40) + `}`, nil},
		{"invalid UTF-8 in a string", "{\"ref\":\"main\xff\"}", ErrInvalidUTF8},
		{"invalid UTF-8 in a name", "{\"r\xc3\":1}", ErrInvalidUTF8},
		{"UTF-8 encoded surrogate", "[\"\xed\xa0\x80\"]", ErrInvalidUTF8},
		{"lone high surrogate escape", `["\ud800"]`, ErrInvalidUTF8},
		{"high surrogate then not a low one", `["\ud800\u0041"]`, ErrInvalidUTF8},
		{"lone low surrogate escape", `["\udc00x"]`, ErrInvalidUTF8},
		{"empty", ``, ErrSyntax},
		{"unterminated", `{"a":`, ErrSyntax},
		{"trailing data", `{} {}`, ErrSyntax},
		{"trailing comma", `[1,]`, ErrSyntax},
		{"leading zero", `01`, ErrSyntax},
		{"bare minus", `-`, ErrSyntax},
		{"control character in a string", "[\"a\nb\"]", ErrSyntax},
		{"bad escape", `["\x"]`, ErrSyntax},
		{"short unicode escape", `["\u12"]`, ErrSyntax},
		{"name without a string", `{a:1}`, ErrSyntax},
		{"mismatched brackets", `[}`, ErrSyntax},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), ErrTooDeep},
		{"as deep as allowed", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.data), nil)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Validate(%.60q) = %v, want %v", tt.data, err, tt.want)
			}
		})
	}
}

// The duplicate-name error gave the offset of the object's end and no
// name: the sender had to count bytes to find which member it wrote twice.
func TestADuplicateNameErrorNamesTheMember(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"at the top", `{"ref":"main","ref":"evil"}`, `strictjson: duplicate member name "ref" at byte 14`},
		{"nested", `{"a":[{"x":1,"y":2,"x":3}]}`, `strictjson: duplicate member name "x" at byte 19`},
		{"written with an escape", `{"a":1,"\u0061":2}`, `strictjson: duplicate member name "a" at byte 7`},
		{"in a large object", `{` + manyNames(40) + `,"n7":0}`, `strictjson: duplicate member name "n7"`},
		{"a long name is cut", `{"` + strings.Repeat("n", 100) + `":1,"` + strings.Repeat("n", 100) + `":2}`, `"` + strings.Repeat("n", 64) + `"… at byte 106`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.data), nil)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrDuplicateName) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate(%.60q) = %v, want an error containing %s", tt.data, err, tt.want)
			}
		})
	}
}

func manyNames(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"n` + string(rune('a'+i%26)) + string(rune('0'+i/26)) + `":0`)
	}
	return strings.ReplaceAll(b.String(), `"nh0"`, `"n7"`)
}

func TestValidateReportsTopLevelMembers(t *testing.T) {
	data := ` { "id" : "evt_1", "\u0074ype":"x.y", "event":{"type":"m","n":[1,{}]}, "list":[], "n":-1.5e3 } `
	got := map[string]string{}
	if err := Validate([]byte(data), func(name, value []byte) { got[string(name)] = string(value) }); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"id": `"evt_1"`, "type": `"x.y"`, "event": `{"type":"m","n":[1,{}]}`, "list": `[]`, "n": `-1.5e3`}
	if len(got) != len(want) {
		t.Errorf("members %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("member %s = %s, want %s", k, got[k], v)
		}
	}
	for _, notObject := range []string{`[{"id":1}]`, `"id"`, `{}`} {
		if err := Validate([]byte(notObject), func(name, _ []byte) { t.Errorf("%s: member %s", notObject, name) }); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindAndRemove(t *testing.T) {
	tests := []struct {
		name, data, path string
		value            string // "" when not found
		removed          string
	}{
		{"top-level first", `{"token":"s3cret","a":1}`, "token", `"s3cret"`, `{"a":1}`},
		{"top-level last", `{"a":1, "token" : "s3cret" }`, "token", `"s3cret"`, `{"a":1 }`},
		{"top-level only", `{"token":"s3cret"}`, "token", `"s3cret"`, `{}`},
		{"nested", `{"a":{"b":[1,{"token":2}]},"auth":{"x":{},"token":"t"},"z":0}`, "auth.token", `"t"`, `{"a":{"b":[1,{"token":2}]},"auth":{"x":{}},"z":0}`},
		{"name written with escapes", `{"t\u006fken":"s"}`, "token", `"s"`, `{}`},
		{"absent", `{"a":{"token":1}}`, "token", "", `{"a":{"token":1}}`},
		{"on the path, not an object", `{"auth":"token"}`, "auth.token", "", `{"auth":"token"}`},
		{"top level not an object", `[{"token":"s"}]`, "token", "", `[{"token":"s"}]`},
		{"object value", `{"token":{"a":[]}}`, "token", `{"a":[]}`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := strings.Split(tt.path, ".")
			value, _, found, err := Find([]byte(tt.data), path)
			if err != nil || found != (tt.value != "") || string(value) != tt.value {
				t.Errorf("Find = %s, %v, %v; want %s", value, found, err, tt.value)
			}
			out, removed, err := Remove([]byte(tt.data), path)
			if err != nil || removed != found || string(out) != tt.removed {
				t.Errorf("Remove = %s, %v, %v; want %s", out, removed, err, tt.removed)
			}
			if !json.Valid(out) {
				t.Errorf("Remove left %s, not JSON", out)
			}
		})
	}
	if _, _, _, err := Find([]byte(`{"a":[1,}],"token":"s"}`), []string{"token"}); !errors.Is(err, ErrSyntax) {
		t.Errorf("Find over a malformed skipped value: %v, want ErrSyntax", err)
	}
}

func TestUnquote(t *testing.T) {
	for raw, want := range map[string]string{`"a"`: "a", `"caf\u00e9\n"`: "café\n", `"\ud83d\ude00"`: "😀", `""`: ""} {
		if got, ok := Unquote([]byte(raw)); !ok || string(got) != want {
			t.Errorf("Unquote(%s) = %q, %v; want %q", raw, got, ok, want)
		}
	}
	for _, raw := range []string{`1`, `"a" "b"`, `{"a":"b"}`, `"\ud800"`, ``} {
		if got, ok := Unquote([]byte(raw)); ok {
			t.Errorf("Unquote(%s) = %q, want not a string", raw, got)
		}
	}
}

// FuzzValidate holds the strict reading to encoding/json's: what it
// accepts encoding/json decodes, to the same top-level members;
// what encoding/json accepts it refuses only for the strict rules; and
// Find and Remove agree with the decoded value.
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{`{"a":1,"b":{"c":[true,null,"x"]}}`, `{"a":1,"a":2}`, `{"\u0061":1,"a":2}`,
		"[\"\xff\"]", `["\ud800"]`, `["\ud83d\ude00"]`, `[1.5e3,-0,{}]`, `{"a" : { "a" : "a" } }`, ` 0 `, `[1e400]`, `1e308`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		members := map[string]json.RawMessage{}
		err := Validate(data, func(name, value []byte) { members[string(name)] = bytes.Clone(value) })
		if err == nil {
			var v any
			if json.Unmarshal(data, &v) != nil || !utf8.Valid(data) {
				t.Fatalf("accepted %q, which encoding/json cannot decode or is not UTF-8", data)
			}
			var top map[string]json.RawMessage
			if json.Unmarshal(data, &top) == nil {
				if len(top) != len(members) {
					t.Fatalf("%q: members %v, encoding/json reads %v", data, members, top)
				}
				for k, v := range top {
					if !bytes.Equal(members[k], v) {
						t.Fatalf("%q: member %q = %s, encoding/json reads %s", data, k, members[k], v)
					}
					checkFind(t, data, k, v)
				}
			}
			return
		}
		var known bool
		for _, e := range []error{ErrSyntax, ErrInvalidUTF8, ErrDuplicateName, ErrTooDeep, ErrTooManyNames, ErrNumberRange} {
			known = known || errors.Is(err, e)
		}
		if !known {
			t.Fatalf("%q: error %v is not a sentinel", data, err)
		}
		if errors.Is(err, ErrSyntax) && json.Valid(data) {
			t.Fatalf("refused %q as not JSON: %v", data, err)
		}
		var v any
		if errors.Is(err, ErrNumberRange) && json.Unmarshal(data, &v) == nil {
			t.Fatalf("refused %q as out of range, which encoding/json decodes to %v", data, v)
		}
		if errors.Is(err, ErrTooDeep) || errors.Is(err, ErrTooManyNames) || errors.Is(err, ErrNumberRange) {
			return // a bound, checked by the tests of bounds_test.go
		}
		if json.Valid(data) && utf8.Valid(data) && !bytes.Contains(data, []byte(`\u`)) && !hasDuplicate(data) {
			t.Fatalf("refused %q: %v", data, err)
		}
	})
}

// checkFind checks Find and Remove on a top-level member of valid data.
func checkFind(t *testing.T, data []byte, name string, want json.RawMessage) {
	value, _, found, err := Find(data, []string{name})
	if err != nil || !found || !bytes.Equal(value, want) {
		t.Fatalf("%q: Find(%q) = %s, %v, %v; want %s", data, name, value, found, err, want)
	}
	out, _, err := Remove(data, []string{name})
	var rest map[string]json.RawMessage
	if err != nil || json.Unmarshal(out, &rest) != nil {
		t.Fatalf("%q: Remove(%q) = %q, %v", data, name, out, err)
	}
	if _, ok := rest[name]; ok {
		t.Fatalf("%q: Remove(%q) left it: %q", data, name, out)
	}
}

// hasDuplicate is a reference duplicate check with encoding/json's tokens.
func hasDuplicate(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		names  map[string]bool
		key    bool // the next string in this object is a name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF || err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isName := top != nil && top.object && top.key
		if top != nil && top.object {
			top.key = !top.key
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &frame{object: true, names: map[string]bool{}, key: true})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = true
				}
			}
		case string:
			if isName {
				if top.names[v] {
					return true
				}
				top.names[v] = true
			}
		}
	}
}

// BenchmarkValidate compares the strict reading with what the pipeline did
// before it, encoding/json reading the top-level fields (which checks the
// whole body's syntax, then skips over nested values), on a GitHub push.
//
//	go test ./shared/strictjson -run '^$' -bench Validate -benchmem
func BenchmarkValidate(b *testing.B) {
	body, err := os.ReadFile("../../functions/trigger/testdata/github-push.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("strictjson", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var typ []byte
			if err := Validate(body, func(name, value []byte) {
				if string(name) == "type" {
					typ = value
				}
			}); err != nil {
				b.Fatal(err)
			}
			_ = typ
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var top struct {
				ID, EventID, Type, Event, Version json.RawMessage
			}
			if err := json.Unmarshal(body, &top); err != nil {
				b.Fatal(err)
			}
		}
	})
}
