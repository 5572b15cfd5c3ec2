package pipeline

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// streamReader hands out its bytes at most chunk at a time, as a
// connection does, and checks what readAll asks for at each read: the
// room it has set aside beyond the bytes that have arrived.
type streamReader struct {
	t      testing.TB
	data   []byte
	chunk  int
	read   int
	maxCap int // the largest buffer readAll has held so far
}

func (s *streamReader) Read(p []byte) (int, error) {
	if held := s.read + len(p); held > s.maxCap {
		s.maxCap = held
		// The pre-authentication bound: never more than the first
		// buffer before bytes arrive, then growth in steps bounded by
		// what has arrived.
		if s.t != nil && held > max(maxUpfrontBytes, growth*s.read) {
			s.t.Errorf("after %d bytes readAll holds a buffer of %d, want at most %d", s.read, held, max(maxUpfrontBytes, growth*s.read))
		}
	}
	if s.read == len(s.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), s.chunk)], s.data[s.read:])
	s.read += n
	return n, nil
}

const body20MiB = 20 << 20

// A 20 MiB body used to be read into buffers doubling from 64 KiB, about
// 2.6 times its size in allocations per request (52 MiB); 80 concurrent
// requests of it take 4 GiB. It is now read into buffers growing 8× at a
// time toward its announced length, ending on it: about once its size.
func TestA20MiBBodyIsReadIntoAboutOneBuffer(t *testing.T) {
	data := bytes.Repeat([]byte("x"), body20MiB)
	var got []byte
	var err error
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err = readAll(&streamReader{t: t, data: data, chunk: 32 << 10}, int64(len(data)))
	runtime.ReadMemStats(&after)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if ratio := float64(alloc) / float64(len(data)); ratio > 1.2 {
		t.Errorf("reading a 20 MiB body allocated %d bytes, %.2f× its size, want at most 1.2×", alloc, ratio)
	}
	t.Logf("a 20 MiB body: %d bytes allocated", alloc)
}

// A sender that sends its body slowly holds no more than growth times
// what it has sent, at every size.
func TestSlowBodiesHoldBuffersBoundedByWhatArrived(t *testing.T) {
	for _, size := range []int{maxUpfrontBytes + 1, 100 << 10, 513 << 10, 3 << 20, body20MiB, DefaultMaxBodyBytes} {
		data := make([]byte, size)
		got, err := readAll(&streamReader{t: t, data: data, chunk: 1 << 10}, int64(size))
		if err != nil || len(got) != size || cap(got) != size {
			t.Errorf("size %d: read %d bytes into %d, %v", size, len(got), cap(got), err)
		}
	}
}

// BenchmarkReadBody reads a 20 MiB body as a connection delivers it: its
// B/op is the figure the README records.
//
//	go test ./shared/pipeline -run '^$' -bench ReadBody -benchmem
func BenchmarkReadBody(b *testing.B) {
	data := make([]byte, body20MiB)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readAll(&streamReader{data: data, chunk: 32 << 10}, int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}

// The whole attack through the pipeline: an authenticated sender posts a
// 20 MiB body of 2.3 M member names. Reading it and checking it used to
// allocate about 390 MB per request (54 MB of read buffers, 338 MB of
// names held for the duplicate check); it is refused with 400 having
// allocated about its own size once.
func TestA20MiBBodyOfNamesIsRefusedHavingAllocatedItsSizeOnce(t *testing.T) {
	h, err := New(context.Background(), &config.Function{Sources: []config.Source{githubSource}}, memSecrets{"env:GITHUB": githubKey},
		func(context.Context, config.Source) (pattern.Pattern, error) { return &recorder{}, nil },
		Options{Logger: logging.New(io.Discard, slog.LevelError)})
	if err != nil {
		t.Fatal(err)
	}
	// 2.3 M distinct names of four letters, 9 bytes a member.
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var body bytes.Buffer
	body.WriteByte('{')
	for i := range 2_331_000 {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteByte('"')
		for k, j := i, 0; j < 4; k, j = k/len(alphabet), j+1 {
			body.WriteByte(alphabet[k%len(alphabet)])
		}
		body.WriteString(`":0`)
	}
	body.WriteByte('}')
	r := httptest.NewRequest(http.MethodPost, "/github", bytes.NewReader(body.Bytes()))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-GitHub-Event", "push")
	r.Header.Set("X-GitHub-Delivery", "d-1")
	if err := verify.Sign(githubSource.Verify, []byte(githubKey), time.Now(), r, body.Bytes()); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h.ServeHTTP(w, r)
	runtime.ReadMemStats(&after)
	if w.Code != http.StatusBadRequest {
		t.Errorf("status %d, want 400", w.Code)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if ratio := float64(alloc) / float64(body.Len()); ratio > 1.3 {
		t.Errorf("a %d-byte body of names allocated %d bytes, %.2f× its size, want at most 1.3×", body.Len(), alloc, ratio)
	}
	t.Logf("a %d-byte body of 2.3 M names: %d bytes allocated", body.Len(), alloc)
}
