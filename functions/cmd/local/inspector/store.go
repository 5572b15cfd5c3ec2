package inspector

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
)

// queueLen is how many deliveries may wait for the file. The file is
// written off the request path (each line is synced), so that a load run
// is not slowed by the inspector; when the queue is full, the delivery is
// listed but not kept in the inspector's history (the file), and the page
// says how many were not: what the functions did with them is unaffected. Each
// waiting delivery holds its body (up to MaxBody): 1024 of them held
// 300 MiB under make bench's 64 KiB load, for a file that keeps only the
// last DefaultKeep anyway.
const queueLen = 64

// load reads the file the previous runs wrote: a line that is not a
// delivery (cut by a crash) is skipped, and a delivery written twice (a
// compaction raced its append) is kept once.
func (i *Inspector) load() error {
	f, err := os.Open(i.file.Path())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	bySeq := map[int64]*Delivery{}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			i.onDisk++
			d := &Delivery{}
			if json.Unmarshal(line, d) == nil && d.Seq > 0 {
				bySeq[d.Seq] = d
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", i.file.Path(), err)
		}
	}
	for seq, d := range bySeq {
		i.list = append(i.list, d)
		i.seq = max(i.seq, seq)
	}
	sort.Slice(i.list, func(a, b int) bool { return i.list[a].Seq < i.list[b].Seq })
	i.list, _ = trim(i.list, i.opts.Keep)
	return nil
}

// queue hands d to the writer; i.mu is held.
func (i *Inspector) queue(d *Delivery) {
	if i.closed {
		i.unsaved++
		return
	}
	select {
	case i.lines <- d:
	default:
		i.unsaved++
	}
}

// write appends the queued deliveries to the file, and rewrites the file
// with the kept ones whenever it holds Keep lines more than those.
func (i *Inspector) write() {
	defer close(i.done)
	for d := range i.lines {
		b, err := json.Marshal(d)
		if err == nil {
			err = i.file.Append(b)
		}
		if err != nil {
			i.mu.Lock()
			i.unsaved++
			i.mu.Unlock()
			slog.Warn("inspector: delivery not saved", "seq", d.Seq, "error", err.Error())
			continue
		}
		i.onDisk++
		i.mu.Lock()
		listed := len(i.list)
		i.mu.Unlock()
		if i.onDisk > listed+i.opts.Keep {
			if err := i.compact(); err != nil {
				slog.Warn("inspector: compaction failed", "error", err.Error())
			}
		}
	}
}

// compact replaces the file with the kept deliveries; only the writer (or
// New, before it starts) calls it.
func (i *Inspector) compact() error {
	list, _, _ := i.snapshot()
	var buf bytes.Buffer
	for n := len(list) - 1; n >= 0; n-- {
		b, err := json.Marshal(list[n])
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	path := i.file.Path()
	if err := os.WriteFile(path+".tmp", buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return err
	}
	// The next Append opens the new file.
	i.onDisk = len(list)
	return i.file.Close()
}

// Close writes what is queued and closes the file; deliveries recorded
// afterwards are listed but not written down.
func (i *Inspector) Close() error {
	i.mu.Lock()
	if !i.closed {
		i.closed = true
		close(i.lines)
	}
	i.mu.Unlock()
	<-i.done
	return i.file.Close()
}
