package strictjson

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// namesBody is an object of n distinct four-letter names, each a member
// of 9 bytes ("abcd":0,): 2.3 M of them fill the 20 MiB a provider may
// send, the body of the amplification attack.
func namesBody(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 0, 9*n+2)
	b = append(b, '{')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		k := i
		b = append(b, '"')
		for range 4 {
			b = append(b, alphabet[k%len(alphabet)])
			k /= len(alphabet)
		}
		b = append(b, '"', ':', '0')
	}
	return append(b, '}')
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// The attack: an authenticated sender posts 20 MiB of one object's member
// names. The duplicate check used to keep every name of an open object
// until it closed (about 200 MiB for this body, so that 80 concurrent
// requests exhausted an instance); it now holds at most MaxNames hashes,
// and refuses the object at its MaxMembers+1-th name.
func TestManyNamesCannotAmplifyMemory(t *testing.T) {
	body := namesBody(2_331_000)
	if len(body) < 20<<20 {
		t.Fatalf("attack body is %d bytes, want 20 MiB", len(body))
	}
	var err error
	n := allocated(func() { err = Validate(body, nil) })
	if !errors.Is(err, ErrTooManyNames) {
		t.Errorf("Validate(2.3 M names) = %v, want ErrTooManyNames", err)
	}
	if n > 1<<20 {
		t.Errorf("Validate(2.3 M names) allocated %d bytes, want at most 1 MiB", n)
	}
}

// Within the caps, a body of many objects of many names each is accepted,
// and what the check holds is bounded by the largest open objects, not by
// the body: the names of a closed object are let go.
func TestManyObjectsOfManyNamesAreHeldOneAtATime(t *testing.T) {
	one := namesBody(MaxMembers)
	body := []byte("[" + strings.Repeat(string(one)+",", 200) + string(one) + "]")
	var err error
	n := allocated(func() { err = Validate(body, nil) })
	if err != nil {
		t.Fatalf("Validate(201 objects of %d names) = %v", MaxMembers, err)
	}
	if n > 1<<20 {
		t.Errorf("Validate(201 objects of %d names) allocated %d bytes, want at most 1 MiB", MaxMembers, n)
	}
}

// The caps refuse what they bound: one object with a name too many, and
// nested objects whose open names together pass MaxNames.
func TestNameCaps(t *testing.T) {
	if err := Validate(namesBody(MaxMembers), nil); err != nil {
		t.Errorf("an object of MaxMembers names: %v", err)
	}
	if err := Validate(namesBody(MaxMembers+1), nil); !errors.Is(err, ErrTooManyNames) {
		t.Errorf("an object of MaxMembers+1 names: %v, want ErrTooManyNames", err)
	}
	// Each level holds MaxMembers-1 names while the next is open.
	members := string(namesBody(MaxMembers - 1))
	members = members[1 : len(members)-1]
	levels := MaxNames/(MaxMembers-1) + 1
	deep := strings.Repeat("{"+members+`,"z":`, levels) + "0" + strings.Repeat("}", levels)
	if err := Validate([]byte(deep), nil); !errors.Is(err, ErrTooManyNames) {
		t.Errorf("%d nested objects of %d names: %v, want ErrTooManyNames", levels, MaxMembers, err)
	}
}

// A duplicate is found by its hash and confirmed by its text, in objects
// large and small, with names written with and without escapes.
func TestHashedDuplicateCheck(t *testing.T) {
	big := string(namesBody(5000))
	big = big[:len(big)-1]
	for name, data := range map[string]string{
		"duplicate last in a large object":    big + `,"aaaa":1}`,
		"escaped duplicate in a large object": big + `,"\u0061aaa":1}`,
		"duplicate among nested objects":      `{"a":{"b":1,"c":{"b":2,"b":3}}}`,
	} {
		if err := Validate([]byte(data), nil); !errors.Is(err, ErrDuplicateName) {
			t.Errorf("%s: %v, want ErrDuplicateName", name, err)
		}
	}
	if err := Validate([]byte(big+`,"aaa\u0061x":1}`), nil); err != nil {
		t.Errorf("a large object without duplicates: %v", err)
	}
}

// BigQuery's JSON type stores 500 levels of nesting: the check refuses
// deeper, so that Store does not accept what BigQuery then refuses (and
// Relay and Trigger act on an event that was never stored).
func TestNestingDeeperThanBigQueryStoresIsRefused(t *testing.T) {
	nest := func(n int) []byte { return []byte(strings.Repeat(`{"a":[`, n/2) + strings.Repeat(`]}`, n/2)) }
	if err := Validate(nest(500), nil); err != nil {
		t.Errorf("500 levels: %v", err)
	}
	if err := Validate(nest(502), nil); !errors.Is(err, ErrTooDeep) {
		t.Errorf("502 levels: %v, want ErrTooDeep", err)
	}
}

// A number float64 cannot hold is refused: Store would keep 1e400 while
// Relay and Trigger could not read it (encoding/json fails on it). One
// answer, 400, for every function.
func TestNumbersOutsideFloat64AreRefused(t *testing.T) {
	for _, data := range []string{`1e400`, `-1e400`, `[1e309]`, `{"a":1.8e308}`, `0.0001e313`,
		strings.Repeat("9", 310), `1` + strings.Repeat("0", 309) + `.5`, `1e99999999999999999999999`} {
		if err := Validate([]byte(data), nil); !errors.Is(err, ErrNumberRange) {
			t.Errorf("Validate(%.40s) = %v, want ErrNumberRange", data, err)
		}
	}
	for _, data := range []string{`1e308`, `1.7976931348623157e308`, `-1.7976931348623157e308`, `1e-400`, `0e99999`,
		`0.000e400`, `12345678901234567891`, strings.Repeat("9", 308), `0.` + strings.Repeat("0", 400) + `1e400`,
		`1e000000000000000000000000000308`, `123.456e-7`} {
		if err := Validate([]byte(data), nil); err != nil {
			t.Errorf("Validate(%.40s) = %v, want nil", data, err)
		}
		if _, err := strconv.ParseFloat(data, 64); err != nil && !errors.Is(err, strconv.ErrRange) {
			t.Fatalf("%s: %v", data, err)
		} else if errors.Is(err, strconv.ErrRange) && !strings.Contains(data, "e-") {
			t.Errorf("%.40s is out of range for ParseFloat, yet accepted", data)
		}
	}
}

// BenchmarkValidateManyNames measures the attack body of
// TestManyNamesCannotAmplifyMemory: its B/op is the figure the README
// records (about 200 MiB before the caps).
//
//	go test ./shared/strictjson -run '^$' -bench ManyNames -benchmem
func BenchmarkValidateManyNames(b *testing.B) {
	body := namesBody(2_331_000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_ = Validate(body, nil)
	}
}
