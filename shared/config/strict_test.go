package config

import (
	"strings"
	"testing"
)

// A misspelt key anywhere in a rule is reported with its path, every one
// of them, instead of being silently ignored.
func TestDecodeStrictNamesEveryUnknownFieldByPath(t *testing.T) {
	type action struct {
		Name string `json:"name"`
	}
	type head struct {
		Events []string `json:"events" was:"types"`
	}
	type rule struct {
		head
		Name    string            `json:"name"`
		Actions []action          `json:"actions"`
		Labels  map[string]action `json:"labels"`
	}
	tests := []struct {
		name, data string
		want       []string // substrings of the error; none: no error
	}{
		{"known fields decode", `{"name":"a","actions":[{"name":"b"}]}`, nil},
		{"top-level typo", `{"nmae":"a"}`, []string{"rules[0].nmae: unknown field"}},
		{"nested typos in a list and a map", `{"actions":[{"name":"b"},{"nam":"c"}],"labels":{"x":{"nme":1}}}`,
			[]string{"rules[0].actions[1].nam: unknown field", "rules[0].labels.x.nme: unknown field"}},
		{"wrong type names the field", `{"name":3}`, []string{"rules[0].name: want string"}},
		{"not JSON", `{`, []string{"rules[0]:"}},
		{"an embedded struct's fields are the rule's", `{"name":"a","events":["push"]}`, nil},
		{"a former spelling gets did you mean", `{"types":["push"]}`,
			[]string{`rules[0].types: unknown field; did you mean "events"? ("types" is the old spelling)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r rule
			err := DecodeStrict("rules[0]", []byte(tt.data), &r)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("DecodeStrict: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeStrict(%s) succeeded, want an error", tt.data)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
