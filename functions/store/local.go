package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cloudhooks/webhooks/shared/event"
)

// localSink is the sink of a machine without BigQuery: each event is one
// JSON line, with the table's columns as fields, appended to
// <dir>/store/<source>.ndjson and fsynced before store returns, so a local
// run keeps the same promise as production (acknowledged means on disk).
type localSink struct {
	dir string // the store folder, <WEBHOOKS_DATA_DIR>/store

	mu    sync.Mutex
	files map[string]*ndjsonFile // by source
}

// ndjsonFile is one source's file. Its lock orders the lines and makes a
// failed write undoable: the file is cut back to its last whole line, so a
// full disk never leaves half a row for the next line to follow.
type ndjsonFile struct {
	mu   sync.Mutex
	f    *os.File
	size int64
}

func newLocalSink(dataDir string) *localSink {
	return &localSink{dir: filepath.Join(dataDir, "store"), files: map[string]*ndjsonFile{}}
}

// path returns the file of source's rows.
func (l *localSink) path(source string) string {
	return filepath.Join(l.dir, source+".ndjson")
}

func (l *localSink) store(ctx context.Context, ev *event.Event) error {
	r, err := newRow(ev)
	if err != nil {
		return err
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("%w: %w", errInvalidEvent, err)
	}
	// The same bound as one BigQuery append, so that an event refused in
	// production is refused locally too.
	if len(line) > MaxBatchBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrRowTooLarge, len(line), MaxBatchBytes)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: local sink: %w", err)
	}
	f, err := l.file(ev.Source)
	if err != nil {
		return err
	}
	return f.appendLine(append(line, '\n'))
}

// file returns source's open file, opening (and creating) it on first use.
func (l *localSink) file(source string) (*ndjsonFile, error) {
	// Source names come from the configuration, but a name that is not a
	// plain file name must never write outside the folder.
	if source != filepath.Base(source) || !filepath.IsLocal(source) {
		return nil, fmt.Errorf("%w: source %q is not a file name", errInvalidEvent, source)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.files[source]; ok {
		return f, nil
	}
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: local sink: %w", err)
	}
	f, err := os.OpenFile(l.path(source), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: local sink: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("store: local sink: %w", err)
	}
	nf := &ndjsonFile{f: f, size: info.Size()}
	l.files[source] = nf
	return nf, nil
}

// appendLine writes line and syncs it to disk.
func (f *ndjsonFile) appendLine(line []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.f.Write(line); err != nil {
		_ = f.f.Truncate(f.size)
		return fmt.Errorf("store: local sink: write %s: %w", f.f.Name(), err)
	}
	if err := f.f.Sync(); err != nil {
		// The line may or may not be on disk: the caller answers 503 and
		// the provider's retry may add a second copy, never lose one.
		return fmt.Errorf("store: local sink: sync %s: %w", f.f.Name(), err)
	}
	f.size += int64(len(line))
	return nil
}

func (l *localSink) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first error
	for source, f := range l.files {
		f.mu.Lock()
		if err := f.f.Close(); err != nil && first == nil {
			first = fmt.Errorf("store: local sink: close %s: %w", f.f.Name(), err)
		}
		f.mu.Unlock()
		delete(l.files, source)
	}
	return first
}
