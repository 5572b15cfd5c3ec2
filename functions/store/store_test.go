package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/pattern"
)

// testEvent returns a complete event. Its receive time is a whole second:
// the emulator misreads the sub-second part of a TIMESTAMP written through
// the Storage Write API (see bigquery_test.go).
func testEvent(source, id string) *event.Event {
	return &event.Event{
		Source:        source,
		ID:            id,
		Type:          "push",
		SchemaVersion: "2024-01-01",
		ReceivedAt:    time.Date(2026, 11, 23, 10, 4, 5, 0, time.UTC),
		Headers:       map[string]string{"X-GitHub-Delivery": id, "User-Agent": "GitHub-Hookshot/abc"},
		Payload:       json.RawMessage(`{"ref":"refs/heads/main","commits":[{"id":"a1"}],"n":1.5}`),
	}
}

// mapLookup is a lookup function over a fixed environment.
func mapLookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestSettingsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    settings
		wantErr []string // each must appear in the error
	}{
		{
			name: "nothing set selects the local sink with defaults",
			env:  map[string]string{},
			want: settings{Dataset: "webhooks", Table: "events", DataDir: defaultDataDir},
		},
		{
			name: "GOOGLE_CLOUD_PROJECT is the project when BIGQUERY_PROJECT is unset",
			env:  map[string]string{"GOOGLE_CLOUD_PROJECT": "p1", EnvPayloadBucket: "bkt"},
			want: settings{Project: "p1", Dataset: "webhooks", Table: "events", DataDir: defaultDataDir, PayloadBucket: "bkt"},
		},
		{
			name: "BIGQUERY_PROJECT wins over GOOGLE_CLOUD_PROJECT",
			env:  map[string]string{"GOOGLE_CLOUD_PROJECT": "p1", envProject: "p2", EnvDataset: "d", EnvTable: "t", EnvPayloadBucket: "bkt"},
			want: settings{Project: "p2", Dataset: "d", Table: "t", DataDir: defaultDataDir, PayloadBucket: "bkt"},
		},
		{
			name: "batch settings are parsed",
			env:  map[string]string{envBatchWait: "20ms", envBatchRows: "50", envDataDir: "/data"},
			want: settings{Dataset: "webhooks", Table: "events", DataDir: "/data", Writer: writerOptions{Wait: 20 * time.Millisecond, Rows: 50}},
		},
		{
			name: "a negative wait turns group commit off",
			env:  map[string]string{envBatchWait: "-1ns"},
			want: settings{Dataset: "webhooks", Table: "events", DataDir: defaultDataDir, Writer: writerOptions{Wait: -1}},
		},
		{
			name: "an emulator needs both addresses and a project",
			env: map[string]string{envProject: "p", envEmulatorHost: "127.0.0.1:9050", envStorageEmulatorHost: "127.0.0.1:9060",
				EnvPayloadBucket: "bkt", envStorageEmulator: "127.0.0.1:4443"},
			want: settings{Project: "p", Dataset: "webhooks", Table: "events", DataDir: defaultDataDir, EmulatorHost: "127.0.0.1:9050", StorageEmulatorHost: "127.0.0.1:9060",
				PayloadBucket: "bkt", StorageEmulator: "127.0.0.1:4443"},
		},
		{
			name:    "BigQuery without a payload bucket is refused: large events would be lost",
			env:     map[string]string{envProject: "p"},
			wantErr: []string{EnvPayloadBucket},
		},
		{
			name:    "a bucket URL instead of a bucket name is named",
			env:     map[string]string{envProject: "p", EnvPayloadBucket: "gs://b1"},
			wantErr: []string{EnvPayloadBucket},
		},
		{
			name:    "a wait that is not a duration is named",
			env:     map[string]string{envBatchWait: "5"},
			wantErr: []string{envBatchWait},
		},
		{
			name:    "a zero wait is refused",
			env:     map[string]string{envBatchWait: "0s"},
			wantErr: []string{envBatchWait},
		},
		{
			name:    "rows that are not a positive number are named",
			env:     map[string]string{envBatchRows: "0"},
			wantErr: []string{envBatchRows},
		},
		{
			name:    "an emulator without a project is refused",
			env:     map[string]string{envEmulatorHost: "h:1", envStorageEmulatorHost: "h:2"},
			wantErr: []string{envProject},
		},
		{
			name:    "half an emulator is refused",
			env:     map[string]string{envProject: "p", envEmulatorHost: "h:1"},
			wantErr: []string{envStorageEmulatorHost},
		},
		{
			name:    "a dataset id that BigQuery refuses is named",
			env:     map[string]string{EnvDataset: "web-hooks"},
			wantErr: []string{EnvDataset},
		},
		{
			name:    "a table id that would break the stream path is named",
			env:     map[string]string{EnvTable: "webhooks.events"},
			wantErr: []string{EnvTable},
		},
		{
			name:    "every bad setting is reported at once",
			env:     map[string]string{envBatchWait: "soon", envBatchRows: "many"},
			wantErr: []string{envBatchWait, envBatchRows},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := settingsFromEnv(mapLookup(tt.env))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("settingsFromEnv() = %+v, want an error naming %v", got, tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("settingsFromEnv(): %v", err)
			}
			if got != tt.want {
				t.Errorf("settingsFromEnv() = %+v, want %+v", got, tt.want)
			}
			if got.local() != (tt.want.Project == "") {
				t.Errorf("local() = %v with project %q", got.local(), got.Project)
			}
		})
	}
}

func TestNewPattern(t *testing.T) {
	t.Cleanup(func() {
		lookupEnv = os.LookupEnv
		if processSink.sink != nil {
			_ = processSink.sink.close()
		}
		processSink.sink = nil
	})

	t.Run("a bad setting is an error naming the variable", func(t *testing.T) {
		lookupEnv = mapLookup(map[string]string{envBatchRows: "-3"})
		if _, err := NewPattern(context.Background(), config.Source{Name: "github"}); err == nil || !strings.Contains(err.Error(), envBatchRows) {
			t.Fatalf("NewPattern() error = %v, want one naming %s", err, envBatchRows)
		}
		if processSink.sink != nil {
			t.Fatal("a failed NewPattern kept a sink")
		}
	})

	t.Run("all sources share one sink and store locally without a project", func(t *testing.T) {
		dir := t.TempDir()
		lookupEnv = mapLookup(map[string]string{envDataDir: dir})
		ctx := context.Background()
		gh, err := NewPattern(ctx, config.Source{Name: "github"})
		if err != nil {
			t.Fatal(err)
		}
		st, err := NewPattern(ctx, config.Source{Name: "stripe"})
		if err != nil {
			t.Fatal(err)
		}
		if gh.(*storePattern).sink != st.(*storePattern).sink {
			t.Error("the two sources got different sinks")
		}
		out, err := gh.Handle(ctx, testEvent("github", "d1"))
		if err != nil || out.Result != resultStored || out.Status != 0 {
			t.Fatalf("Handle() = %+v, %v; want 200 %q", out, err, resultStored)
		}
		if rows := readLocal(t, filepath.Join(dir, "store", "github.ndjson")); len(rows) != 1 {
			t.Errorf("github.ndjson has %d rows, want 1", len(rows))
		}
	})
}

// readLocal returns the rows of a local sink file, failing on any line
// that is not one whole JSON row.
func readLocal(t testing.TB, path string) []row {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []row
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r row
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %d of %s: %v", len(rows)+1, path, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	return rows
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("not JSON: %q: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("not JSON: %q: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestLocalSinkRoundTrip(t *testing.T) {
	dir := t.TempDir()
	sk := newLocalSink(dir)
	t.Cleanup(func() { _ = sk.close() })
	p := newPattern(sk)
	ctx := context.Background()

	full := testEvent("github", "d1")
	bare := &event.Event{Source: "github", ID: "d2", ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)}
	other := testEvent("stripe", "evt_1")
	for _, ev := range []*event.Event{full, bare, other} {
		if _, err := p.Handle(ctx, ev); err != nil {
			t.Fatalf("Handle(%s/%s): %v", ev.Source, ev.ID, err)
		}
	}

	rows := readLocal(t, filepath.Join(dir, "store", "github.ndjson"))
	if len(rows) != 2 {
		t.Fatalf("github.ndjson has %d rows, want 2", len(rows))
	}
	r := rows[0]
	if r.Source != full.Source || r.EventID != full.ID || r.EventType != full.Type || r.SchemaVersion != full.SchemaVersion {
		t.Errorf("row = %+v, want the fields of %+v", r, full)
	}
	if r.ReceivedAt != "2026-11-23T10:04:05.000000Z" {
		t.Errorf("received_at = %q", r.ReceivedAt)
	}
	if !jsonEqual(t, r.Payload, full.Payload) {
		t.Errorf("payload = %s, want %s", r.Payload, full.Payload)
	}
	wantHeaders, _ := json.Marshal(full.Headers)
	if !jsonEqual(t, r.Headers, wantHeaders) {
		t.Errorf("headers = %s, want %s", r.Headers, wantHeaders)
	}
	if b := rows[1]; b.EventID != "d2" || b.EventType != "" || b.Payload != nil || b.Headers != nil || b.ReceivedAt != "2026-01-02T03:04:05.123456Z" {
		t.Errorf("bare row = %+v", b)
	}
	if rows := readLocal(t, filepath.Join(dir, "store", "stripe.ndjson")); len(rows) != 1 || rows[0].EventID != "evt_1" {
		t.Errorf("stripe.ndjson = %+v, want evt_1 alone", rows)
	}

	// A sink opened later appends to what is there.
	again := newLocalSink(dir)
	t.Cleanup(func() { _ = again.close() })
	if err := again.store(ctx, testEvent("github", "d3")); err != nil {
		t.Fatal(err)
	}
	if rows := readLocal(t, filepath.Join(dir, "store", "github.ndjson")); len(rows) != 3 {
		t.Errorf("after reopening, github.ndjson has %d rows, want 3", len(rows))
	}
}

func TestLocalSinkConcurrentHandlesWriteWholeLines(t *testing.T) {
	dir := t.TempDir()
	sk := newLocalSink(dir)
	t.Cleanup(func() { _ = sk.close() })
	p := newPattern(sk)
	const n = 64
	// Payloads well above a pipe buffer, so interleaved writes would show.
	big := json.RawMessage(`{"blob":"` + strings.Repeat("x", 64<<10) + `"}`)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			ev := testEvent("github", fmt.Sprintf("d%03d", i))
			ev.Payload = big
			if _, err := p.Handle(context.Background(), ev); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rows := readLocal(t, filepath.Join(dir, "store", "github.ndjson"))
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.EventID] = true
	}
	if len(rows) != n || len(seen) != n {
		t.Errorf("%d rows, %d distinct ids; want %d of each", len(rows), len(seen), n)
	}
}

func TestHandleRefusesWhatNoRetryCanStore(t *testing.T) {
	huge := map[string]string{"X-Huge": strings.Repeat("a", maxBatchBytes)}
	tests := []struct {
		name  string
		event func() *event.Event
		want  error
	}{
		{"an event without an id", func() *event.Event { ev := testEvent("github", "x"); ev.ID = ""; return ev }, errInvalidEvent},
		{"an event without a source", func() *event.Event { ev := testEvent("github", "x"); ev.Source = ""; return ev }, errInvalidEvent},
		{"an event without a receive time", func() *event.Event { ev := testEvent("github", "x"); ev.ReceivedAt = time.Time{}; return ev }, errInvalidEvent},
		{"a payload that is not JSON", func() *event.Event { ev := testEvent("github", "x"); ev.Payload = json.RawMessage("a=1"); return ev }, errInvalidEvent},
		{"a source that is not a file name", func() *event.Event { return testEvent("../etc", "x") }, errInvalidEvent},
		{"headers larger than one append", func() *event.Event { ev := largeEvent("github", "x", 9<<20); ev.Headers = huge; return ev }, errRowTooLarge},
	}
	dir := t.TempDir()
	sk := newLocalSink(dir)
	t.Cleanup(func() { _ = sk.close() })
	p := newPattern(sk)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := p.Handle(context.Background(), tt.event())
			if !errors.Is(err, pattern.ErrUnprocessable) || !errors.Is(err, tt.want) {
				t.Fatalf("Handle() = %+v, %v; want Unprocessable %v", out, err, tt.want)
			}
		})
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "store")); len(entries) > 0 {
		for _, e := range entries {
			if rows := readLocal(t, filepath.Join(dir, "store", e.Name())); len(rows) > 0 {
				t.Errorf("%s holds %d rows of refused events", e.Name(), len(rows))
			}
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name          string
		err           error
		unprocessable bool
	}{
		{"an invalid event is unprocessable", fmt.Errorf("x: %w", errInvalidEvent), true},
		{"a row too large is unprocessable", fmt.Errorf("x: %w", errRowTooLarge), true},
		{"a row BigQuery refused is unprocessable", fmt.Errorf("x: %w", errRowRefused), true},
		{"a deadline is retryable", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"an unknown failure is retryable", errors.New("EOF"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.err)
			var re *pattern.RetryableError
			if got := errors.Is(err, pattern.ErrUnprocessable); got != tt.unprocessable {
				t.Errorf("unprocessable = %v, want %v (%v)", got, tt.unprocessable, err)
			}
			if got := errors.As(err, &re); got == tt.unprocessable {
				t.Errorf("retryable = %v, want %v (%v)", got, !tt.unprocessable, err)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("classify lost the cause %v", tt.err)
			}
		})
	}
}

func TestViewNameMatchesTerraform(t *testing.T) {
	tf, err := os.ReadFile("../../terraform/store.tf")
	if err != nil {
		t.Skipf("terraform not beside the package: %v", err)
	}
	if got := viewName("events"); got != "events_latest" {
		t.Errorf("viewName(events) = %q", got)
	}
	if !bytes.Contains(tf, []byte(`"${var.bigquery_table}_latest"`)) {
		t.Error("terraform/store.tf no longer names the view <table>_latest; change viewName with it")
	}
}

// The names the Go code and the terraform share: the table function, the
// retry horizon's default and the bucket's variable.
func TestStoreNamesMatchTerraform(t *testing.T) {
	tf, err := os.ReadFile("../../terraform/store.tf")
	if err != nil {
		t.Skipf("terraform not beside the package: %v", err)
	}
	vars, err := os.ReadFile("../../terraform/variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	if got := tableFunctionName("events"); got != "events_between" {
		t.Errorf("tableFunctionName(events) = %q", got)
	}
	for _, c := range []struct{ file, text []byte }{
		{tf, []byte(`"${var.bigquery_table}_between"`)},
		{tf, []byte(EnvPayloadBucket + " = google_storage_bucket.payloads[0].name")},
		{vars, []byte(fmt.Sprintf("default     = %d\n", retryHorizonDays))},
	} {
		if !bytes.Contains(c.file, c.text) {
			t.Errorf("the terraform no longer holds %q; change the Go code with it", c.text)
		}
	}
	m := regexp.MustCompile(`variable "store_retry_horizon_days" \{[^}]*?default\s*=\s*(\d+)`).FindSubmatch(vars)
	if m == nil || string(m[1]) != strconv.Itoa(retryHorizonDays) {
		t.Errorf("store_retry_horizon_days defaults to %q, want retryHorizonDays (%d)", m, retryHorizonDays)
	}
}

// FuzzEncodeRow proves that any event either is refused as invalid or
// becomes a proto row that decodes back to its fields.
func FuzzEncodeRow(f *testing.F) {
	f.Add("github", "d1", "push", `{"a":1}`, "X-Id", "v")
	f.Add("s", "", "", "", "", "")
	f.Add("s", "id", "t", `{"a":`, "k", "\xff")
	f.Add("s", "id", "", `"\u0000"`, "", "")
	rs, err := loadRowSchema()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, source, id, typ, payload, hk, hv string) {
		ev := &event.Event{
			Source: source, ID: id, Type: typ, ReceivedAt: time.Unix(1700000000, 0),
			Headers: map[string]string{hk: hv}, Payload: json.RawMessage(payload),
		}
		b, err := encodeRow(rs, ev, "")
		if err != nil {
			if !errors.Is(err, errInvalidEvent) {
				t.Fatalf("encodeRow: %v, want errInvalidEvent", err)
			}
			return
		}
		m := dynamicpb.NewMessage(rs.msg)
		if err := proto.Unmarshal(b, m); err != nil {
			t.Fatalf("row does not decode: %v", err)
		}
		if got := m.Get(rs.eventID).String(); got != id {
			t.Errorf("event_id = %q, want %q", got, id)
		}
		if got := m.Get(rs.payload).String(); got != payload {
			t.Errorf("payload = %q, want %q", got, payload)
		}
		if got := m.Get(rs.receivedAt).Int(); got != ev.ReceivedAt.UnixMicro() {
			t.Errorf("received_at = %d", got)
		}
	})
}

// Production tables come from the terraform: only a sink pointed at the
// emulator creates its dataset, table and view (emulator.go), and a
// BigQuery sink's stream opens its streams with the client it is given.
func TestOnlyTheEmulatorSinkCreatesItsTables(t *testing.T) {
	for _, tc := range []struct {
		name         string
		env          map[string]string
		wantEmulator bool
	}{
		{"BigQuery", map[string]string{envProject: "p", EnvPayloadBucket: "bkt"}, false},
		{"the emulator", map[string]string{envProject: "p", envEmulatorHost: "127.0.0.1:9050", envStorageEmulatorHost: "127.0.0.1:9060", EnvPayloadBucket: "bkt"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := settingsFromEnv(mapLookup(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			sk, err := newSink(s)
			if err != nil {
				t.Fatal(err)
			}
			defer sk.close()
			b := sk.(*bigQuerySink)
			_, emulated := b.clients.(*emulatorClients)
			if emulated != tc.wantEmulator {
				t.Errorf("clients %T, want the emulator's: %v", b.clients, tc.wantEmulator)
			}
			if b.stream.clients != b.clients {
				t.Error("the stream opens its streams with another client than the sink closes")
			}
		})
	}
}
