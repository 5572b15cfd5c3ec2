package event

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Numbers read as their digits say: float64 where it holds them (as
// encoding/json reads them), int64 or uint64 for the integers beyond 2^53
// that float64 would round.
func TestVarsKeepTheValueOfEveryNumber(t *testing.T) {
	tests := []struct {
		literal string
		want    any
	}{
		{"0", 0.0},
		{"-7", -7.0},
		{"2.5", 2.5},
		{"1e3", 1000.0},
		{"1e-400", 0.0},
		{"9007199254740992", 9007199254740992.0}, // 2^53: float64 holds it
		{"-9007199254740992", -9007199254740992.0},          // -2^53
		{"9007199254740993", int64(9007199254740993)},       // 2^53+1 would round to 2^53
		{"-9223372036854775808", int64(-1 << 63)},           // int64's least
		{"1234567890123456789", int64(1234567890123456789)}, // an X id
		{"12345678901234567891", uint64(12345678901234567891)},
		{"18446744073709551615", uint64(1<<64 - 1)},
		{"18446744073709551616", 18446744073709551616.0}, // beyond uint64
		{"12345678901234567891.0", 12345678901234567891.0},
		{"123456789012345", 123456789012345.0}, // 15 digits: the fast path
		{"0.1234567890123456789", 0.1234567890123456789},
	}
	for _, tt := range tests {
		t.Run(tt.literal, func(t *testing.T) {
			// Alone, and beside a string of 16 digits, which takes
			// the exact decoding whatever the numbers.
			for _, payload := range []string{`{"n":[` + tt.literal + `]}`, `{"n":[` + tt.literal + `],"s":"1234567890123456"}`} {
				vars, err := (&Event{Payload: json.RawMessage(payload)}).Vars()
				if err != nil {
					t.Fatal(err)
				}
				got := vars["payload"].(map[string]any)["n"].([]any)[0]
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s reads %T %v, want %T %v", payload, got, got, tt.want, tt.want)
				}
			}
		})
	}
}

// The pipeline refuses these (package strictjson); a job decoded from
// elsewhere is refused as well, never read as infinity.
func TestVarsRefusesANumberBeyondFloat64(t *testing.T) {
	for _, payload := range []string{`{"n":1e400}`, `{"n":1e400,"s":"1234567890123456"}`, `{} {}`} {
		if _, err := (&Event{Payload: json.RawMessage(payload)}).Vars(); err == nil {
			t.Errorf("Vars(%s): no error", payload)
		}
	}
}
