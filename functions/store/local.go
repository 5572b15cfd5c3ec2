package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/ndjson"
)

// localSink is the sink of a machine without BigQuery: each event is one
// JSON line, with the table's columns as fields, appended to
// <dir>/store/<source>.ndjson and fsynced before store returns, so a local
// run keeps the same promise as production (acknowledged means on disk).
// Payloads above maxInlinePayloadBytes go to files under
// <dir>/store/payloads, named as in the bucket (payloadObjectName), and
// the line's payload_uri is their file:// URL.
type localSink struct {
	dir      string // the store folder, <WEBHOOKS_DATA_DIR>/store
	payloads dirStore

	mu    sync.Mutex
	files map[string]*ndjson.File // by source
}

func newLocalSink(dataDir string) *localSink {
	dir := filepath.Join(dataDir, "store")
	return &localSink{dir: dir, payloads: dirStore{dir: filepath.Join(dir, "payloads")}, files: map[string]*ndjson.File{}}
}

func (l *localSink) store(ctx context.Context, ev *event.Event) error {
	f, err := l.file(ev.Source)
	if err != nil {
		return err
	}
	// The same bound as one BigQuery append, so that an event is stored
	// locally as it is in production.
	line, err := rowWithin(ctx, l.payloads, ev, maxBatchBytes, func(ev *event.Event, uri string) ([]byte, error) {
		r, err := newRow(ev, uri)
		if err != nil {
			return nil, err
		}
		line, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errInvalidEvent, err)
		}
		return line, nil
	})
	if err != nil {
		return err
	}
	if len(line) > maxBatchBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", errRowTooLarge, len(line), maxBatchBytes)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: local sink: %w", err)
	}
	// A failed sync may or may not have left the line on disk: the caller
	// answers 503 and the provider's retry may add a second copy, never
	// lose one.
	if err := f.Append(line); err != nil {
		return fmt.Errorf("store: local sink: %w", err)
	}
	return nil
}

// file returns source's file.
func (l *localSink) file(source string) (*ndjson.File, error) {
	// Source names come from the configuration, but a name that is not a
	// plain file name must never write outside the folder.
	if source != filepath.Base(source) || !filepath.IsLocal(source) {
		return nil, fmt.Errorf("%w: source %q is not a file name", errInvalidEvent, source)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.files[source]
	if !ok {
		f = ndjson.New(filepath.Join(l.dir, source+".ndjson"))
		l.files[source] = f
	}
	return f, nil
}

func (l *localSink) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, f := range l.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
