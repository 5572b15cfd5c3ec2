package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Batch bounds of the group commit. AppendRows refuses requests above
// 10 MB; the descriptor and framing need some of that, so rows get 9 MB.
const (
	// defaultBatchWait is how long the first row of a batch waits for
	// others: a webhook barely notices 5 ms, and under load it turns dozens
	// of appends into one.
	defaultBatchWait = 5 * time.Millisecond
	// defaultBatchRows caps the rows of one append.
	defaultBatchRows = 500
	// maxBatchBytes caps the serialized rows of one append.
	maxBatchBytes = 9 << 20
	// defaultAppendTimeout bounds one append when no caller is left
	// waiting for it; the stream is reopened after a timeout.
	defaultAppendTimeout = 30 * time.Second
)

// errRowTooLarge is returned for an event whose row alone exceeds what one
// append may carry: no retry can store it.
var errRowTooLarge = errors.New("row larger than one append request allows")

// errRowRefused marks a row BigQuery refused as such (a value its column
// cannot hold): sent again it would be refused again.
var errRowRefused = errors.New("BigQuery refused the row")

// appender sends rows in one append request and returns only once the
// request is acknowledged (nil) or failed. When BigQuery refuses some rows,
// it returns a *rowErrors naming them; none of the request's rows are then
// written.
type appender interface {
	appendRows(ctx context.Context, rows [][]byte) error
}

// rowErrors is BigQuery's refusal of particular rows of an append request.
type rowErrors struct {
	// byIndex maps a refused row's index in the request to the reason.
	byIndex map[int]string
}

func (e *rowErrors) Error() string {
	return fmt.Sprintf("%d rows refused", len(e.byIndex))
}

// writerOptions tune the group commit; zero values take the defaults.
type writerOptions struct {
	// Wait is how long a batch stays open after its first row; negative
	// sends every row alone at once (no group commit).
	Wait time.Duration
	// Rows and Bytes bound one batch.
	Rows  int
	Bytes int
	// AppendTimeout bounds one append.
	AppendTimeout time.Duration
}

func (o writerOptions) withDefaults() writerOptions {
	if o.Wait == 0 {
		o.Wait = defaultBatchWait
	}
	if o.Rows <= 0 {
		o.Rows = defaultBatchRows
	}
	if o.Bytes <= 0 || o.Bytes > maxBatchBytes {
		o.Bytes = maxBatchBytes
	}
	if o.AppendTimeout <= 0 {
		o.AppendTimeout = defaultAppendTimeout
	}
	return o
}

// writer is the group commit: concurrent Write calls share one append, and
// each returns only once the append holding its row is acknowledged.
//
// A batch opens with its first row and is sealed when it is full or Wait
// has passed, whichever comes first; sealing happens exactly once, under
// mu, by whoever takes it off w.open. Sealed batches are appended at once,
// so a slow append never holds up the next batch.
type writer struct {
	app  appender
	opts writerOptions

	mu   sync.Mutex
	open *batch

	// appends counts append requests sent, for tests and benchmarks.
	appends atomic.Int64
}

type batch struct {
	rows    [][]byte
	bytes   int
	waiters []chan error
	timer   *time.Timer
}

func newWriter(app appender, opts writerOptions) *writer {
	return &writer{app: app, opts: opts.withDefaults()}
}

// Write appends row and returns nil once BigQuery acknowledged it. An error
// means the row may or may not be stored (it is then safe to retry: the
// dedup view hides duplicates). Write stops waiting when ctx ends; the
// append itself goes on for the other rows of its batch.
func (w *writer) Write(ctx context.Context, row []byte) error {
	if len(row) > w.opts.Bytes {
		return fmt.Errorf("%w: %d bytes, at most %d", errRowTooLarge, len(row), w.opts.Bytes)
	}
	done := make(chan error, 1)
	w.mu.Lock()
	if b := w.open; b != nil && (len(b.rows) >= w.opts.Rows || b.bytes+len(row) > w.opts.Bytes) {
		w.sealLocked(b)
	}
	b := w.open
	if b == nil {
		b = &batch{}
		w.open = b
		if w.opts.Wait > 0 {
			b.timer = time.AfterFunc(w.opts.Wait, func() { w.seal(b) })
		}
	}
	b.rows = append(b.rows, row)
	b.bytes += len(row)
	b.waiters = append(b.waiters, done)
	if w.opts.Wait < 0 || len(b.rows) >= w.opts.Rows {
		w.sealLocked(b)
	}
	w.mu.Unlock()

	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("store: append not acknowledged before the deadline: %w", ctx.Err())
	}
}

// seal seals b when it is still the open batch (the timer may fire after
// a full batch was already sealed).
func (w *writer) seal(b *batch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.open == b {
		w.sealLocked(b)
	}
}

func (w *writer) sealLocked(b *batch) {
	w.open = nil
	if b.timer != nil {
		b.timer.Stop()
	}
	go w.commit(b.rows, b.waiters)
}

// commit appends rows and tells each waiter its row's fate. When BigQuery
// refuses some rows it writes none of them, so the refused rows' callers
// fail and the others are appended again without them, once.
func (w *writer) commit(rows [][]byte, waiters []chan error) {
	err := w.append(rows)
	var refused *rowErrors
	if !errors.As(err, &refused) {
		for _, c := range waiters {
			c <- err
		}
		return
	}
	var retryRows [][]byte
	var retryWaiters []chan error
	for i, c := range waiters {
		if reason, ok := refused.byIndex[i]; ok {
			c <- fmt.Errorf("store: %w: %s", errRowRefused, reason)
			continue
		}
		retryRows = append(retryRows, rows[i])
		retryWaiters = append(retryWaiters, c)
	}
	if len(retryRows) == 0 {
		return
	}
	err = w.append(retryRows)
	if errors.As(err, &refused) {
		err = fmt.Errorf("store: append refused again without the refused rows: %w", err)
	}
	for _, c := range retryWaiters {
		c <- err
	}
}

func (w *writer) append(rows [][]byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.AppendTimeout)
	defer cancel()
	w.appends.Add(1)
	return w.app.appendRows(ctx, rows)
}
