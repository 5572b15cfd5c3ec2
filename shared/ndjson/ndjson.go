// Package ndjson appends JSON lines to local files: what a local run keeps
// in place of Google Cloud (Store's rows, the messages Relay would send,
// the actions Trigger would run), one object a line, for `tail -f` and jq.
//
//	f := ndjson.New(".local/data/relay/messages.ndjson")
//	defer f.Close()
//	err := f.Append([]byte(`{"topic":"payments"}`))
//
// An appended line is on disk when Append returns, so a local run keeps
// the functions' promise: acknowledged means stored.
package ndjson

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// File is a file that lines are appended to, opened (with its folder) on
// the first Append. Its lock orders the lines, and a failed write is
// undone by cutting the file back to its last whole line, so a full disk
// never leaves half a line for the next one to follow.
type File struct {
	path string

	mu   sync.Mutex
	f    *os.File
	size int64
}

var newline = []byte{'\n'}

// New returns the File at path; nothing is created until the first Append.
func New(path string) *File { return &File{path: path} }

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Append writes line (one JSON value, without its newline) and syncs it to
// disk. After an error the line may or may not be on disk when the sync
// failed; it is never half there.
func (f *File) Append(line []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.open(); err != nil {
		return err
	}
	// Two writes under the lock rather than a copy of the line with its
	// newline: rows can be megabytes.
	for _, b := range [][]byte{line, newline} {
		if _, err := f.f.Write(b); err != nil {
			_ = f.f.Truncate(f.size)
			return fmt.Errorf("ndjson: write %s: %w", f.path, err)
		}
	}
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("ndjson: sync %s: %w", f.path, err)
	}
	f.size += int64(len(line)) + 1
	return nil
}

// open opens the file on first use; f.mu is held.
func (f *File) open() error {
	if f.f != nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		return fmt.Errorf("ndjson: %w", err)
	}
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("ndjson: %w", err)
	}
	info, err := file.Stat()
	if err != nil {
		_ = file.Close()
		return fmt.Errorf("ndjson: %w", err)
	}
	f.f, f.size = file, info.Size()
	return nil
}

// Close closes the file; a later Append opens it again.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	if err != nil {
		return fmt.Errorf("ndjson: close %s: %w", f.path, err)
	}
	return nil
}
