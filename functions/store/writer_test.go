package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// recordingAppender stands in for the stream in tests of the group commit
// logic alone (batch bounds, refused rows), which BigQuery and its
// emulator cannot be made to exercise on demand: it records each request
// and answers with fail's verdict. The emulator tests prove the write path.
type recordingAppender struct {
	mu       sync.Mutex
	requests [][][]byte
	fail     func(rows [][]byte) error
	release  chan struct{} // when set, appends wait for it
}

func (a *recordingAppender) appendRows(ctx context.Context, rows [][]byte) error {
	if a.release != nil {
		<-a.release
	}
	a.mu.Lock()
	a.requests = append(a.requests, slices.Clone(rows))
	a.mu.Unlock()
	if a.fail != nil {
		return a.fail(rows)
	}
	return nil
}

func (a *recordingAppender) sizes() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n []int
	for _, r := range a.requests {
		n = append(n, len(r))
	}
	slices.Sort(n)
	return n
}

// writeAll calls w.Write for each row concurrently and returns each
// row's error, by row.
func writeAll(w *writer, rows [][]byte) map[string]error {
	var mu sync.Mutex
	errs := map[string]error{}
	var wg sync.WaitGroup
	for _, r := range rows {
		wg.Go(func() {
			err := w.Write(context.Background(), r)
			mu.Lock()
			errs[string(r)] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return errs
}

func rowsOf(n, size int) [][]byte {
	rows := make([][]byte, n)
	for i := range rows {
		r := fmt.Appendf(nil, "%06d", i)
		rows[i] = append(r, make([]byte, max(0, size-len(r)))...)
	}
	return rows
}

func TestWriterBatches(t *testing.T) {
	tests := []struct {
		name      string
		opts      writerOptions
		rows      [][]byte
		wantSizes []int
	}{
		{
			name:      "rows arriving within the wait share one append",
			opts:      writerOptions{Wait: time.Hour, Rows: 10},
			rows:      rowsOf(10, 10),
			wantSizes: []int{10},
		},
		{
			name:      "a batch is sealed when it holds Rows rows",
			opts:      writerOptions{Wait: time.Hour, Rows: 4},
			rows:      rowsOf(12, 10),
			wantSizes: []int{4, 4, 4},
		},
		{
			name: "a batch is sealed before it would exceed Bytes",
			// The last batch is sealed by its wait.
			opts:      writerOptions{Wait: 200 * time.Millisecond, Rows: 100, Bytes: 250},
			rows:      rowsOf(6, 100),
			wantSizes: []int{2, 2, 2},
		},
		{
			name:      "a negative wait sends every row alone",
			opts:      writerOptions{Wait: -1},
			rows:      rowsOf(5, 10),
			wantSizes: []int{1, 1, 1, 1, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &recordingAppender{}
			w := newWriter(app, tt.opts)
			for r, err := range writeAll(w, tt.rows) {
				if err != nil {
					t.Errorf("Write(%.6s): %v", r, err)
				}
			}
			if got := app.sizes(); !slices.Equal(got, tt.wantSizes) {
				t.Errorf("append sizes = %v, want %v", got, tt.wantSizes)
			}
			if got := w.appends.Load(); got != int64(len(tt.wantSizes)) {
				t.Errorf("appends = %d, want %d", got, len(tt.wantSizes))
			}
		})
	}
}

func TestWriterSendsAPartialBatchAfterTheWait(t *testing.T) {
	app := &recordingAppender{}
	w := newWriter(app, writerOptions{Wait: time.Millisecond, Rows: 100})
	if err := w.Write(context.Background(), []byte("only")); err != nil {
		t.Fatal(err)
	}
	if got := app.sizes(); !slices.Equal(got, []int{1}) {
		t.Errorf("append sizes = %v, want [1]", got)
	}
}

func TestWriterReportsEachRowsFate(t *testing.T) {
	boom := errors.New("stream broken")
	tests := []struct {
		name string
		fail func(rows [][]byte) error
		// want maps a row to whether its Write must fail.
		wantFailed map[string]bool
		wantSizes  []int
	}{
		{
			name:       "a failed append fails every row of it",
			fail:       func([][]byte) error { return boom },
			wantFailed: map[string]bool{"000000": true, "000001": true, "000002": true},
			wantSizes:  []int{3},
		},
		{
			name: "refused rows fail and the others are appended again without them",
			fail: func(rows [][]byte) error {
				for i, r := range rows {
					if string(r) == "000001" {
						return &rowErrors{byIndex: map[int]string{i: "INVALID: bad value"}}
					}
				}
				return nil
			},
			wantFailed: map[string]bool{"000000": false, "000001": true, "000002": false},
			wantSizes:  []int{2, 3},
		},
		{
			name: "a batch refused again is not acknowledged",
			fail: func(rows [][]byte) error {
				return &rowErrors{byIndex: map[int]string{0: "INVALID"}}
			},
			wantFailed: map[string]bool{"000000": true, "000001": true, "000002": true},
			wantSizes:  []int{2, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &recordingAppender{fail: tt.fail}
			w := newWriter(app, writerOptions{Wait: time.Hour, Rows: 3})
			errs := writeAll(w, rowsOf(3, 6))
			for r, wantFail := range tt.wantFailed {
				if (errs[r] != nil) != wantFail {
					t.Errorf("Write(%s) = %v, want failed %v", r, errs[r], wantFail)
				}
			}
			if got := app.sizes(); !slices.Equal(got, tt.wantSizes) {
				t.Errorf("append sizes = %v, want %v", got, tt.wantSizes)
			}
		})
	}
}

func TestWriterStopsWaitingWhenTheCallerGivesUp(t *testing.T) {
	app := &recordingAppender{release: make(chan struct{})}
	w := newWriter(app, writerOptions{Wait: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Write(ctx, []byte("slow")) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Write() = %v, want context.Canceled", err)
	}
	close(app.release)
}

func TestWriterRefusesARowLargerThanABatch(t *testing.T) {
	app := &recordingAppender{}
	w := newWriter(app, writerOptions{Bytes: 100})
	if err := w.Write(context.Background(), make([]byte, 101)); !errors.Is(err, errRowTooLarge) {
		t.Fatalf("Write() = %v, want errRowTooLarge", err)
	}
	if n := w.appends.Load(); n != 0 {
		t.Errorf("%d appends sent for a refused row", n)
	}
}
