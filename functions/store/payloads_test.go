package store

// Payload objects against fake-gcs-server (github.com/fsouza/fake-gcs-server)
// running in-process, reached over HTTP by the real
// cloud.google.com/go/storage client: the JSON API's multipart upload with
// its ifGenerationMatch=0 precondition, as Cloud Storage serves it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/pattern"
)

const testBucket = "webhooks-payloads"

// fakeGCS is a Cloud Storage fake with testBucket, on a loopback port.
type fakeGCS struct {
	srv  *fakestorage.Server
	host string // host:port, as STORAGE_EMULATOR_HOST takes it
}

func newFakeGCS(t testing.TB) *fakeGCS {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Writer: io.Discard})
	if err != nil {
		t.Fatalf("fakestorage.NewServerWithOptions: %v", err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return &fakeGCS{srv: srv, host: u.Host}
}

// objects returns the bucket's objects by name, with their bytes.
func (g *fakeGCS) objects(t testing.TB) map[string]fakestorage.Object {
	t.Helper()
	objs, _, err := g.srv.ListObjectsWithOptions(testBucket, fakestorage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]fakestorage.Object{}
	for _, o := range objs {
		full, err := g.srv.GetObject(testBucket, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[o.Name] = full
	}
	return out
}

// largeEvent returns an event whose payload is a JSON document of about
// size bytes, above maxInlinePayloadBytes for the sizes tests use.
func largeEvent(source, id string, size int) *event.Event {
	ev := testEvent(source, id)
	ev.Payload = largePayload(size, 'x')
	return ev
}

func largePayload(size int, fill byte) json.RawMessage {
	head := `{"ref":"refs/heads/main","blob":"`
	b := make([]byte, 0, size)
	b = append(b, head...)
	b = append(b, bytes.Repeat([]byte{fill}, max(0, size-len(head)-2))...)
	return append(b, `"}`...)
}

func TestPayloadObjectName(t *testing.T) {
	at := time.Date(2026, 3, 4, 23, 59, 59, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name, source, id, want string
	}{
		{"dated by the UTC receive time", "github", "d-1", "github/2026/03/04/d-1.json"},
		{"a slash in an id stays in one name", "github", "a/../b", "github/2026/03/04/a%2F..%2Fb.json"},
		{"a dot-dot id is no path step", "github", "..", "github/2026/03/04/...json"},
		{"a content-hash id is kept", "s", "sha256:ab", "s/2026/03/04/sha256:ab.json"},
		{"an id too long for an object name is hashed", "s", strings.Repeat("é", 300), "s/2026/03/04/sha256-" + sha256Hex([]byte(strings.Repeat("é", 300))) + ".json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := payloadObjectName(&event.Event{Source: tt.source, ID: tt.id, ReceivedAt: at})
			if got != tt.want {
				t.Errorf("payloadObjectName() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBucketStoreWritesEachPayloadOnce(t *testing.T) {
	gcs := newFakeGCS(t)
	bs := newBucketStore(testBucket, gcs.host)
	t.Cleanup(func() { _ = bs.close() })
	ctx := context.Background()
	ev := largeEvent("github", "d-large", 9<<20)

	uri, err := bs.put(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	name := "github/2026/11/23/d-large.json"
	if want := "gs://" + testBucket + "/" + name; uri != want {
		t.Errorf("uri = %q, want %q", uri, want)
	}
	objs := gcs.objects(t)
	obj, ok := objs[name]
	if !ok || len(objs) != 1 {
		t.Fatalf("bucket holds %v, want %s alone", keys(objs), name)
	}
	if !bytes.Equal(obj.Content, ev.Payload) {
		t.Errorf("object holds %d bytes that differ from the %d payload bytes", len(obj.Content), len(ev.Payload))
	}
	if obj.ContentType != payloadContentType {
		t.Errorf("content type = %q, want %q", obj.ContentType, payloadContentType)
	}
	for k, want := range map[string]string{"source": "github", "event_id": "d-large", "event_type": "push", "received_at": "2026-11-23T10:04:05Z"} {
		if got := obj.Metadata[k]; got != want {
			t.Errorf("metadata %s = %q, want %q", k, got, want)
		}
	}

	// The retry of a request whose row failed after its object was
	// written: the same name, the same bytes, a success, no new object.
	again, err := bs.put(ctx, largeEvent("github", "d-large", 9<<20))
	if err != nil || again != uri {
		t.Fatalf("second put = %q, %v; want %q", again, err, uri)
	}
	if objs := gcs.objects(t); len(objs) != 1 || objs[name].Generation != obj.Generation {
		t.Errorf("the second put rewrote or added objects: %v", keys(objs))
	}

	// Another body under the same id replaces nothing: it is kept beside
	// the first, and each row points at its own bytes.
	other := largeEvent("github", "d-large", 9<<20)
	other.Payload = largePayload(9<<20, 'y')
	otherURI, err := bs.put(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if otherURI == uri {
		t.Fatalf("other bytes got the first object's uri %s", uri)
	}
	objs = gcs.objects(t)
	if len(objs) != 2 || !bytes.Equal(objs[name].Content, ev.Payload) {
		t.Fatalf("bucket holds %v; want the first object unchanged and the other beside it", keys(objs))
	}
	otherName := strings.TrimPrefix(otherURI, "gs://"+testBucket+"/")
	if !bytes.Equal(objs[otherName].Content, other.Payload) {
		t.Errorf("%s does not hold the other payload", otherName)
	}
}

// An id longer than object metadata may hold is still stored: its object
// is named by the id's hash, and the id is left to the row.
func TestBucketStoreKeepsPayloadsOfVeryLongIDs(t *testing.T) {
	gcs := newFakeGCS(t)
	bs := newBucketStore(testBucket, gcs.host)
	t.Cleanup(func() { _ = bs.close() })
	ev := largeEvent("github", strings.Repeat("i", 9000), 9<<20)
	uri, err := bs.put(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := readObject(t, gcs, uri); !bytes.Equal(got, ev.Payload) {
		t.Errorf("%s holds %d bytes, want the payload's %d", uri, len(got), len(ev.Payload))
	}
}

func TestBucketStoreDownIsRetryable(t *testing.T) {
	gcs := newFakeGCS(t)
	bs := newBucketStore(testBucket, gcs.host)
	t.Cleanup(func() { _ = bs.close() })
	gcs.srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	uri, err := bs.put(ctx, largeEvent("github", "d-down", 9<<20))
	if err == nil {
		t.Fatalf("put() = %q with Cloud Storage down, want an error", uri)
	}
	var re *pattern.RetryableError
	if err := classify(err); !errors.As(err, &re) {
		t.Errorf("classify(%v) is not Retryable", err)
	}
}

// A large payload on a machine without Google Cloud (make run) goes to a
// file under the data folder, and the line carries its file URL.
func TestLocalSinkKeepsLargePayloadsInFiles(t *testing.T) {
	dir := t.TempDir()
	sk := newLocalSink(dir)
	t.Cleanup(func() { _ = sk.close() })
	p := newPattern(sk)
	ev := largeEvent("github", "d-large", 20<<20)
	for range 2 {
		if out, err := p.Handle(context.Background(), ev); err != nil || out.Result != resultStored {
			t.Fatalf("Handle() = %+v, %v", out, err)
		}
	}
	rows := readLocal(t, filepath.Join(dir, "store", "github.ndjson"))
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2 (one per delivery)", len(rows))
	}
	r := rows[0]
	path := filepath.Join(dir, "store", "payloads", "github", "2026", "11", "23", "d-large.json")
	abs, _ := filepath.Abs(path)
	if want := "file://" + filepath.ToSlash(abs); r.PayloadURI != want || rows[1].PayloadURI != want {
		t.Errorf("payload_uri = %q, %q; want %q for both", r.PayloadURI, rows[1].PayloadURI, want)
	}
	if r.Payload != nil || r.PayloadBytes != int64(len(ev.Payload)) {
		t.Errorf("row payload = %d bytes, payload_bytes = %d; want none and %d", len(r.Payload), r.PayloadBytes, len(ev.Payload))
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, ev.Payload) {
		t.Errorf("payload file: %d bytes, %v; want the payload's %d bytes", len(b), err, len(ev.Payload))
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("payload folder holds %d entries, want 1", len(entries))
	}
}

// A payload that fits a row stays in the row, with its size.
func TestSmallPayloadsStayInTheRow(t *testing.T) {
	dir := t.TempDir()
	sk := newLocalSink(dir)
	t.Cleanup(func() { _ = sk.close() })
	ev := largeEvent("github", "d-8m", maxInlinePayloadBytes)
	if err := sk.store(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	rows := readLocal(t, filepath.Join(dir, "store", "github.ndjson"))
	if len(rows) != 1 || rows[0].PayloadURI != "" || len(rows[0].Payload) != maxInlinePayloadBytes || rows[0].PayloadBytes != maxInlinePayloadBytes {
		t.Errorf("a payload of exactly %d bytes left its row", maxInlinePayloadBytes)
	}
	if _, err := os.Stat(filepath.Join(dir, "store", "payloads")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("payloads folder exists (%v), want no file for a payload that fits", err)
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// client returns a Cloud Storage client of the fake, reading objects
// through the JSON API (the fake's XML API wants its own host name).
func (g *fakeGCS) client(t testing.TB) *storage.Client {
	t.Helper()
	c, err := storage.NewClient(context.Background(), option.WithEndpoint("http://"+g.host+"/storage/v1/"),
		option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readObject reads a gs:// URI with the real client, as a user would with
// `gcloud storage cat`.
func readObject(t testing.TB, gcs *fakeGCS, uri string) []byte {
	t.Helper()
	bucket, name, ok := strings.Cut(strings.TrimPrefix(uri, "gs://"), "/")
	if !ok || !strings.HasPrefix(uri, "gs://") {
		t.Fatalf("%q is not a gs:// URI", uri)
	}
	r, err := gcs.client(t).Bucket(bucket).Object(name).NewReader(context.Background())
	if err != nil {
		t.Fatalf("read %s: %v", uri, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", uri, err)
	}
	return b
}

// countObjects counts the bucket's objects through the real client.
func countObjects(t testing.TB, gcs *fakeGCS) int {
	t.Helper()
	n := 0
	it := gcs.client(t).Bucket(testBucket).Objects(context.Background(), &storage.Query{})
	for {
		_, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}
