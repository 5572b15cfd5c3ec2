package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"

	"github.com/cloudhooks/webhooks/shared/event"
)

// maxInlinePayloadBytes is the largest payload a row carries itself. One
// Storage Write append holds at most 10 MB; maxBatchBytes keeps 9 MiB of
// that for rows, and 8 MiB of payload leaves the other MiB to the headers
// and the other columns (net/http reads at most 1 MiB of headers). A
// larger payload is written to an object first and the row carries its
// payload_uri instead (payload NULL), so no body the pipeline accepts
// (MAX_BODY_BYTES, 25 MiB) is refused for its size.
const maxInlinePayloadBytes = 8 << 20

// payloadContentType is the content type of payload objects: the pipeline
// hands Store JSON only (form bodies become a JSON object).
const payloadContentType = "application/json"

// rowWithin returns the row that encode makes of ev, no larger than limit
// bytes. A payload above maxInlinePayloadBytes, or one that makes the row
// larger than limit, is first stored in payloads, and the row refers to it.
// An event that cannot become a row, not even without its payload, stores
// nothing.
func rowWithin(ctx context.Context, payloads payloadStore, ev *event.Event, limit int,
	encode func(ev *event.Event, payloadURI string) ([]byte, error)) ([]byte, error) {
	if len(ev.Payload) <= maxInlinePayloadBytes {
		row, err := encode(ev, "")
		if err != nil || len(row) <= limit {
			return row, err
		}
	}
	// The row without its payload, with a reference as long as any can
	// be: refused here, no object is left without a row.
	bare := *ev
	bare.Payload = nil
	probe, err := encode(&bare, strings.Repeat("x", maxPayloadURIBytes))
	if err != nil {
		return nil, err
	}
	if len(probe) > limit {
		return nil, fmt.Errorf("%w: %d bytes without the payload, at most %d", errRowTooLarge, len(probe), limit)
	}
	uri, err := payloads.put(ctx, ev)
	if err != nil {
		return nil, err
	}
	return encode(ev, uri)
}

// maxPayloadURIBytes bounds a payload_uri: gs://, a bucket name (222), an
// object name (1024); a local file URL gets the rest.
const maxPayloadURIBytes = 4096

// payloadStore keeps the payloads too large for a row.
type payloadStore interface {
	// put stores ev's payload durably under payloadObjectName(ev) and
	// returns its URI. Storing the same event again is a success, and
	// never a second copy.
	put(ctx context.Context, ev *event.Event) (uri string, err error)
}

// payloadObjectName returns where the payload of ev is kept, relative to
// the bucket (or the local payloads folder):
//
//	<source>/<yyyy>/<mm>/<dd>/<event id>.json
//
// dated by the receive time in UTC. Source and id are path-escaped, so that
// an id holding '/' or ".." stays one object name; an id too long for an
// object name (1024 bytes) is replaced by its SHA-256.
func payloadObjectName(ev *event.Event) string {
	id := url.PathEscape(ev.ID)
	if len(id) > 512 {
		id = "sha256-" + sha256Hex([]byte(ev.ID))
	}
	return url.PathEscape(ev.Source) + "/" + ev.ReceivedAt.UTC().Format("2006/01/02") + "/" + id + ".json"
}

// conflictName is the name of a payload whose event id already names an
// object with other bytes (a provider reusing an id, a payload edited
// before a redelivery): both are kept, the second beside the first with
// its CRC32C in the name.
func conflictName(name string, crc uint32) string {
	return name[:len(name)-len(".json")] + "." + strconv.FormatUint(uint64(crc), 16) + ".json"
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// errPayloadConflict is an object of the payload's name holding other
// bytes, after the conflict name was tried too.
var errPayloadConflict = errors.New("payload object exists with other bytes")

// bucketStore writes payloads to a Cloud Storage bucket through the JSON
// API's generated client (google.golang.org/api/storage/v1). Not
// cloud.google.com/go/storage: that package also carries its gRPC
// transport, and with it gRPC's xDS and OpenTelemetry, which nearly
// doubled the Store binary and its memory at start;
// Store needs two calls, an insert and a get.
type bucketStore struct {
	bucket string
	// endpoint is a storage emulator's base URL (STORAGE_EMULATOR_HOST);
	// empty in production.
	endpoint string

	mu      sync.Mutex
	service *storage.Service
}

func newBucketStore(bucket, emulatorHost string) *bucketStore {
	b := &bucketStore{bucket: bucket}
	if emulatorHost != "" {
		b.endpoint = emulatorHost
		if !hasScheme(emulatorHost) {
			b.endpoint = "http://" + emulatorHost
		}
	}
	return b
}

func hasScheme(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

// objects returns the Cloud Storage objects service, creating it on first
// use; a failed creation is retried by the next call.
func (b *bucketStore) objects(ctx context.Context) (*storage.ObjectsService, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.service != nil {
		return b.service.Objects, nil
	}
	opts := []option.ClientOption{option.WithScopes(storage.DevstorageReadWriteScope)}
	if b.endpoint != "" {
		opts = []option.ClientOption{option.WithEndpoint(b.endpoint + "/storage/v1/"), option.WithoutAuthentication()}
	}
	svc, err := storage.NewService(context.WithoutCancel(ctx), opts...)
	if err != nil {
		return nil, fmt.Errorf("store: storage.NewService: %w", err)
	}
	b.service = svc
	return svc.Objects, nil
}

func (b *bucketStore) put(ctx context.Context, ev *event.Event) (string, error) {
	objects, err := b.objects(ctx)
	if err != nil {
		return "", err
	}
	name := payloadObjectName(ev)
	crc := crc32.Checksum(ev.Payload, castagnoli)
	for _, n := range []string{name, conflictName(name, crc)} {
		same, err := b.create(ctx, objects, n, ev, crc)
		if err != nil {
			return "", fmt.Errorf("store: payload gs://%s/%s: %w", b.bucket, n, err)
		}
		if same {
			return "gs://" + b.bucket + "/" + n, nil
		}
	}
	return "", fmt.Errorf("store: payload gs://%s/%s: %w", b.bucket, name, errPayloadConflict)
}

// create writes the payload as object name unless it exists, retrying
// what Cloud Storage calls transient until ctx ends. It reports whether
// the object now holds exactly the payload: written now, or by an earlier
// attempt or delivery (same size and CRC32C).
//
// Every attempt uploads in one request straight from the payload
// (ChunkSize 0, a multipart upload): the client then holds no second copy
// of a 25 MiB body; the payload is in memory anyway, so the retry is done
// here. The ifGenerationMatch=0 precondition makes an attempt safe to
// repeat, and makes an object immutable for Store: no attempt can replace
// what a row points to.
func (b *bucketStore) create(ctx context.Context, objects *storage.ObjectsService, name string, ev *event.Event, crc uint32) (bool, error) {
	delay := 100 * time.Millisecond
	for {
		err := b.upload(ctx, objects, name, ev, crc)
		if err == nil {
			return true, nil
		}
		if isPreconditionFailed(err) {
			obj, err := objects.Get(b.bucket, name).Context(ctx).Do()
			if err != nil {
				return false, fmt.Errorf("read the existing object: %w", err)
			}
			return obj.Size == uint64(len(ev.Payload)) && obj.Crc32c == crc32cString(crc), nil
		}
		if !transient(err) {
			return false, err
		}
		select {
		case <-ctx.Done():
			return false, errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func (b *bucketStore) upload(ctx context.Context, objects *storage.ObjectsService, name string, ev *event.Event, crc uint32) error {
	obj := &storage.Object{
		Name:        name,
		ContentType: payloadContentType,
		// Cloud Storage checks the bytes against the checksum: an object
		// exists only if it holds exactly the payload.
		Crc32c: crc32cString(crc),
		Metadata: map[string]string{
			"source":      ev.Source,
			"received_at": ev.ReceivedAt.UTC().Format(time.RFC3339Nano),
		},
	}
	// Custom metadata is capped at 8 KiB in all: an id or type longer
	// than any provider sends is left to the row, rather than failing
	// the upload on every retry.
	if len(ev.ID) <= maxMetadataValue {
		obj.Metadata["event_id"] = ev.ID
	}
	if ev.Type != "" && len(ev.Type) <= maxMetadataValue {
		obj.Metadata["event_type"] = ev.Type
	}
	_, err := objects.Insert(b.bucket, obj).
		IfGenerationMatch(0).
		Media(bytes.NewReader(ev.Payload), googleapi.ContentType(payloadContentType), googleapi.ChunkSize(0)).
		Context(ctx).Do()
	return err
}

// crc32cString is a CRC32C as the JSON API writes it: base64 of its four
// big-endian bytes.
func crc32cString(crc uint32) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc))
}

const maxMetadataValue = 1024

func isPreconditionFailed(err error) bool {
	var apiErr *googleapi.Error
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusPreconditionFailed
}

// transient reports whether an upload may succeed when tried again, by
// Cloud Storage's retry guidance: 408, 429 and 5xx answers, and a
// connection that failed or broke.
func transient(err error) bool {
	var apiErr *googleapi.Error
	if errors.As(err, &apiErr) {
		return apiErr.Code == http.StatusRequestTimeout || apiErr.Code == http.StatusTooManyRequests || apiErr.Code >= 500
	}
	var netErr net.Error
	var urlErr *url.Error
	return errors.As(err, &netErr) || errors.As(err, &urlErr) || errors.Is(err, io.ErrUnexpectedEOF)
}

func (b *bucketStore) close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.service = nil
	return nil
}

// dirStore keeps payloads as files of a local folder, named as in the
// bucket, for runs without Google Cloud. A file appears whole or not at
// all (written aside, synced, renamed).
type dirStore struct {
	dir string
}

func (d dirStore) put(ctx context.Context, ev *event.Event) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("store: local payload: %w", err)
	}
	name := payloadObjectName(ev)
	crc := crc32.Checksum(ev.Payload, castagnoli)
	for _, n := range []string{name, conflictName(name, crc)} {
		path := filepath.Join(d.dir, filepath.FromSlash(n))
		same, err := createFile(path, ev.Payload)
		if err != nil {
			return "", fmt.Errorf("store: local payload: %w", err)
		}
		if same {
			abs, err := filepath.Abs(path)
			if err != nil {
				return "", fmt.Errorf("store: local payload: %w", err)
			}
			return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
		}
	}
	return "", fmt.Errorf("store: local payload %s: %w", name, errPayloadConflict)
}

// createFile writes data to path unless a file is there, and reports
// whether path now holds exactly data.
func createFile(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil {
		return bytes.Equal(old, data), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".payload-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, err
	}
	// Link, not rename: it fails when another delivery got there first,
	// and the loser compares bytes instead of replacing the file.
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		old, err := os.ReadFile(path)
		return err == nil && bytes.Equal(old, data), err
	} else if err != nil {
		return false, err
	}
	return true, nil
}
