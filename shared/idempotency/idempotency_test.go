package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/cloudhooks/webhooks/shared/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopFirestore()
	os.Exit(code)
}

// clock is a settable time source shared by a store and its test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	testLease     = time.Minute
	testRetention = time.Hour
)

// backend builds a store whose time is c.
type backend struct {
	name string
	new  func(t *testing.T, c *clock) Store
}

func backends(t *testing.T) []backend {
	return []backend{
		{"memory", func(t *testing.T, c *clock) Store {
			m := NewMemory(testLease)
			m.retention = testRetention
			m.now = c.now
			return m
		}},
		{"firestore", func(t *testing.T, c *clock) Store {
			f := NewFirestore(emulatorClient(t), "claims", testLease, testRetention)
			f.now = c.now
			return f
		}},
	}
}

// emulatorClient returns a client of the Firestore emulator, skipping (or
// failing under WEBHOOKS_STRICT=1) when there is none.
func emulatorClient(t *testing.T) *firestore.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("Firestore emulator: not under -short")
	}
	project, host := testenv.Firestore(t)
	t.Setenv("FIRESTORE_EMULATOR_HOST", host)
	c, err := firestore.NewClient(context.Background(), project)
	if err != nil {
		t.Fatalf("firestore.NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// uniqueKey returns a key no earlier run used, so an emulator that outlives
// test runs cannot leak state between them.
func uniqueKey(t *testing.T) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "src/" + hex.EncodeToString(b) + "/" + t.Name()
}

func TestStore(t *testing.T) {
	type step struct {
		op      string // claim, complete, release, advance
		advance time.Duration
		want    State // for claim
	}
	claim := func(want State) step { return step{op: "claim", want: want} }
	complete := step{op: "complete"}
	release := step{op: "release"}
	advance := func(d time.Duration) step { return step{op: "advance", advance: d} }

	cases := []struct {
		name  string
		steps []step
	}{
		{"first claim is claimed", []step{claim(Claimed)}},
		{"second claim while in flight is in flight", []step{claim(Claimed), claim(InFlight)}},
		{"claim after complete is done", []step{claim(Claimed), complete, claim(Done), claim(Done)}},
		{"claim after release is claimed again", []step{claim(Claimed), release, claim(Claimed), claim(InFlight)}},
		{"claim within the lease is still in flight", []step{claim(Claimed), advance(testLease - time.Second), claim(InFlight)}},
		{"expired lease is taken over once", []step{claim(Claimed), advance(testLease + time.Second), claim(Claimed), claim(InFlight)}},
		{"release leaves a done key done", []step{claim(Claimed), complete, release, claim(Done)}},
		{"done outlives the lease", []step{claim(Claimed), complete, advance(testLease * 2), claim(Done)}},
		{"done expires after the retention", []step{claim(Claimed), complete, advance(testRetention + time.Second), claim(Claimed)}},
		{"release of an unknown key does nothing", []step{release, claim(Claimed)}},
		{"complete without a claim makes the key done", []step{complete, claim(Done)}},
	}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
					st := b.new(t, c)
					ctx := context.Background()
					key := uniqueKey(t)
					for i, s := range tc.steps {
						switch s.op {
						case "claim":
							got, err := st.Claim(ctx, key)
							if err != nil {
								t.Fatalf("step %d: Claim: %v", i, err)
							}
							if got != s.want {
								t.Fatalf("step %d: Claim = %v, want %v", i, got, s.want)
							}
						case "complete":
							if err := st.Complete(ctx, key); err != nil {
								t.Fatalf("step %d: Complete: %v", i, err)
							}
						case "release":
							if err := st.Release(ctx, key); err != nil {
								t.Fatalf("step %d: Release: %v", i, err)
							}
						case "advance":
							c.advance(s.advance)
						}
					}
				})
			}
		})
	}
}

// TestConcurrentClaimsHaveOneWinner claims one key from 20 goroutines at
// once, fresh and after an expired claim (the takeover transaction):
// exactly one wins.
func TestConcurrentClaimsHaveOneWinner(t *testing.T) {
	const n = 20
	for _, b := range backends(t) {
		for _, expired := range []bool{false, true} {
			name := b.name + "/fresh key"
			if expired {
				name = b.name + "/expired claim"
			}
			t.Run(name, func(t *testing.T) {
				c := &clock{t: time.Now()}
				st := b.new(t, c)
				key := uniqueKey(t)
				if expired {
					if got, err := st.Claim(context.Background(), key); err != nil || got != Claimed {
						t.Fatalf("first Claim = %v, %v", got, err)
					}
					c.advance(testLease + time.Second)
				}
				var wg sync.WaitGroup
				results := make([]State, n)
				errs := make([]error, n)
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						<-start
						results[i], errs[i] = st.Claim(context.Background(), key)
					})
				}
				close(start)
				wg.Wait()
				counts := map[State]int{}
				for i := range n {
					if errs[i] != nil {
						t.Fatalf("Claim %d: %v", i, errs[i])
					}
					counts[results[i]]++
				}
				if counts[Claimed] != 1 || counts[InFlight] != n-1 {
					t.Fatalf("claims = %v, want exactly one Claimed and %d InFlight", counts, n-1)
				}
			})
		}
	}
}

// TestFirestoreDocument proves the stored form the terraform relies on:
// the document id is the key's SHA-256, expires_at is a timestamp (the TTL
// policy ignores other types) at claim+lease, then completion+retention.
func TestFirestoreDocument(t *testing.T) {
	client := emulatorClient(t)
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := NewFirestore(client, "claims", testLease, testRetention)
	f.now = c.now
	ctx := context.Background()
	key := uniqueKey(t)
	if _, err := f.Claim(ctx, key); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	read := func() map[string]any {
		snap, err := client.Collection("claims").Doc(DocID(key)).Get(ctx)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		return snap.Data()
	}
	doc := read()
	if doc["key"] != key || doc["state"] != "in_flight" {
		t.Fatalf("claim document = %v, want key %q in_flight", doc, key)
	}
	if got, ok := doc["expires_at"].(time.Time); !ok || !got.Equal(c.now().Add(testLease)) {
		t.Fatalf("expires_at = %#v, want the timestamp %v", doc["expires_at"], c.now().Add(testLease))
	}
	c.advance(time.Second)
	if err := f.Complete(ctx, key); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	doc = read()
	if doc["state"] != "done" {
		t.Fatalf("state = %v, want done", doc["state"])
	}
	if got, ok := doc["expires_at"].(time.Time); !ok || !got.Equal(c.now().Add(testRetention)) {
		t.Fatalf("expires_at = %#v, want the timestamp %v", doc["expires_at"], c.now().Add(testRetention))
	}
	if _, ok := doc["claimed_at"].(time.Time); !ok {
		t.Fatalf("claimed_at = %#v, want the claim's timestamp kept", doc["claimed_at"])
	}
}

func TestFromEnv(t *testing.T) {
	lookup := func(env map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	}
	t.Run("no project selects memory", func(t *testing.T) {
		st, err := FromEnv(context.Background(), lookup(nil))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.(*Memory); !ok {
			t.Fatalf("FromEnv = %T, want *Memory", st)
		}
	})
	t.Run("project selects firestore with the configured collection", func(t *testing.T) {
		// The client reads the emulator address itself; nothing is dialled.
		t.Setenv(EnvEmulatorHost, "127.0.0.1:1")
		st, err := FromEnv(context.Background(), lookup(map[string]string{
			EnvProject: "p", EnvCollection: "c", EnvLease: "30s",
		}))
		if err != nil {
			t.Fatal(err)
		}
		f, ok := st.(*Firestore)
		if !ok {
			t.Fatalf("FromEnv = %T, want *Firestore", st)
		}
		defer f.client.Close()
		if f.collection != "c" || f.lease != 30*time.Second || f.retention != DefaultRetention {
			t.Fatalf("FromEnv = collection %q lease %v retention %v", f.collection, f.lease, f.retention)
		}
	})
	t.Run("bad durations are named", func(t *testing.T) {
		_, err := FromEnv(context.Background(), lookup(map[string]string{EnvLease: "soon", EnvRetention: "-1h"}))
		if err == nil {
			t.Fatal("FromEnv accepted bad durations")
		}
		for _, name := range []string{EnvLease, EnvRetention} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name %s", err, name)
			}
		}
	})
	t.Run("emulator without a project is an error", func(t *testing.T) {
		if _, err := FromEnv(context.Background(), lookup(map[string]string{EnvEmulatorHost: "127.0.0.1:1"})); err == nil {
			t.Fatal("FromEnv accepted an emulator without a project")
		}
	})
}
