package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
)

// defaultStream appends to a table's default stream through one
// long-lived ManagedStream, reopened after any failure that may have left
// it broken.
//
// Cloud Run throttles the CPU between requests, so the gRPC stream under a
// ManagedStream can be closed by the server or the network while nobody
// looks. managedwriter retries what it knows to be safe (EnableWriteRetries:
// at-least-once, the dedup view hides duplicates); anything else that fails
// an append (EOF, Unavailable, a deadline, the writer closed) drops the
// ManagedStream, the append's callers get the error and answer 503, and the
// next batch opens a fresh stream. A batch is acknowledged only by its own
// successful response, never by a later one.
type defaultStream struct {
	clients writeClients // the Storage Write client, created on first use
	table   string       // projects/p/datasets/d/tables/t
	schema  *rowSchema

	// emulated: register the default stream with GetWriteStream before
	// opening it. The BigQuery emulator knows a table's _default stream
	// only once it was looked up, and forgets it when it restarts; real
	// BigQuery needs no lookup, so production skips the extra call.
	emulated bool

	mu     sync.Mutex
	ms     *managedwriter.ManagedStream
	cancel context.CancelFunc // ends ms's context once it is dropped
	// opens counts streams opened, for tests.
	opens int
}

// current returns the open ManagedStream, opening one when there is none.
func (s *defaultStream) current(ctx context.Context) (*managedwriter.ManagedStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ms != nil {
		return s.ms, nil
	}
	mw, err := s.clients.writeClient(ctx)
	if err != nil {
		return nil, err
	}
	// The ManagedStream keeps the context it is opened with for its whole
	// life, so it cannot be ctx; but opening must stop when ctx ends, or a
	// BigQuery outage would hold this lock for the client's own retry
	// budget (minutes).
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	if s.emulated {
		name := s.table + "/streams/_default"
		if _, err := mw.GetWriteStream(life, &storagepb.GetWriteStreamRequest{Name: name}); err != nil {
			stop()
			cancel()
			return nil, fmt.Errorf("store: look up %s: %w", name, err)
		}
	}
	ms, err := mw.NewManagedStream(life,
		managedwriter.WithDestinationTable(s.table),
		managedwriter.WithType(managedwriter.DefaultStream),
		managedwriter.WithSchemaDescriptor(s.schema.proto),
		managedwriter.EnableWriteRetries(true),
	)
	if !stop() {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		cancel()
		if ms != nil {
			_ = ms.Close()
		}
		return nil, fmt.Errorf("store: open default stream of %s: %w", s.table, err)
	}
	s.ms, s.cancel = ms, cancel
	s.opens++
	return ms, nil
}

// drop forgets ms so that the next append opens a new stream, and closes
// it before returning. A stream already replaced is left alone: a late
// failure of an old batch must not close its healthy successor.
//
// Closing before the caller answers matters: managedwriter re-sends a
// failed write in the background (EnableWriteRetries) on a connection it
// reopens itself, so a dropped stream left open could deliver an old batch
// long after its callers were told 503. Those batches' outcome is unknown
// anyway; the providers retry them and the dedup view hides a duplicate.
func (s *defaultStream) drop(ms *managedwriter.ManagedStream) {
	s.mu.Lock()
	if s.ms != ms {
		s.mu.Unlock()
		return
	}
	s.ms = nil
	cancel := s.cancel
	s.mu.Unlock()
	cancel()
	_ = ms.Close()
}

// close closes the open stream, if any; appends in flight fail.
func (s *defaultStream) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ms == nil {
		return nil
	}
	err := s.ms.Close()
	s.cancel()
	s.ms = nil
	return err
}

// opened returns how many streams were opened so far.
func (s *defaultStream) opened() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// appendRows implements appender.
func (s *defaultStream) appendRows(ctx context.Context, rows [][]byte) error {
	ms, err := s.current(ctx)
	if err != nil {
		return err
	}
	res, err := ms.AppendRows(ctx, rows)
	if err != nil {
		s.drop(ms)
		return fmt.Errorf("store: append %d rows: %w", len(rows), err)
	}
	resp, err := res.FullResponse(ctx)
	if err == nil {
		return nil
	}
	if rowErrs := resp.GetRowErrors(); len(rowErrs) > 0 {
		// The stream is healthy; BigQuery refused particular rows.
		re := &rowErrors{byIndex: make(map[int]string, len(rowErrs))}
		for _, e := range rowErrs {
			re.byIndex[int(e.GetIndex())] = e.GetCode().String() + ": " + e.GetMessage()
		}
		return re
	}
	s.drop(ms)
	return fmt.Errorf("store: append %d rows: %w", len(rows), err)
}
