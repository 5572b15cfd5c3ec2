package config

import (
	"strings"
	"testing"
	"time"
)

func TestEnvReadsValuesAndNamesEveryBadOne(t *testing.T) {
	vars := map[string]string{
		"WAIT": "250ms", "BAD_WAIT": "soon", "NEG_WAIT": "-1s",
		"N": "12", "BAD_N": "0",
		"ON": "true", "BAD_ON": "yes",
		"EMPTY": "",
	}
	e := NewEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })

	if got := e.Duration("WAIT", time.Second); got != 250*time.Millisecond {
		t.Errorf("Duration(WAIT) = %v", got)
	}
	if got := e.Duration("UNSET", time.Second); got != time.Second {
		t.Errorf("Duration(UNSET) = %v, want the default", got)
	}
	if got := e.Int("N", 1); got != 12 {
		t.Errorf("Int(N) = %d", got)
	}
	if got := e.Bool("ON", false); !got {
		t.Errorf("Bool(ON) = false")
	}
	if got := e.String("EMPTY", "def"); got != "def" {
		t.Errorf("String(EMPTY) = %q, want the default", got)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("good values reported: %v", err)
	}

	e.Duration("BAD_WAIT", time.Second)
	e.Duration("NEG_WAIT", time.Second)
	e.Int("BAD_N", 1)
	e.Bool("BAD_ON", false)
	err := e.Err()
	if err == nil {
		t.Fatal("bad values not reported")
	}
	// One message per variable, each starting with the variable.
	lines := strings.Split(err.Error(), "\n")
	for i, want := range []string{`BAD_WAIT="soon"`, `NEG_WAIT="-1s"`, `BAD_N="0"`, `BAD_ON="yes"`} {
		if i >= len(lines) || !strings.HasPrefix(lines[i], want+": want ") {
			t.Errorf("message %d of %q does not start with %s", i, err, want)
		}
	}
	if len(lines) != 4 {
		t.Errorf("%d messages for 4 bad variables: %q", len(lines), err)
	}
}
