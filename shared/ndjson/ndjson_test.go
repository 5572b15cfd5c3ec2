package ndjson

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Concurrent appends each become one whole line, in a file (and folder)
// created on first use, and a reopened File appends after what is there.
func TestAppendWritesWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "rows.ndjson")
	f := New(path)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("New created the file: %v", err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			b, _ := json.Marshal(map[string]int{"i": i})
			if err := f.Append(b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := New(path).Append([]byte(`{"i":50}`)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	seen := map[int]bool{}
	for _, l := range lines {
		var v struct{ I int }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q is not one JSON value: %v", l, err)
		}
		seen[v.I] = true
	}
	if len(lines) != 51 || len(seen) != 51 {
		t.Errorf("%d lines, %d distinct; want 51 of each", len(lines), len(seen))
	}
}

// Append does not write into the caller's slice beyond its length.
func TestAppendLeavesTheCallersBufferAlone(t *testing.T) {
	buf := []byte(`{"a":1}XYZ`)
	line := buf[:7]
	if err := New(filepath.Join(t.TempDir(), "f.ndjson")).Append(line); err != nil {
		t.Fatal(err)
	}
	if string(buf) != `{"a":1}XYZ` {
		t.Errorf("buffer became %q", buf)
	}
}
