package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// textHandler writes a record as one line for a person at a terminal:
//
//	15:04:05.000 WARN webhook request function=Store source=stripe status=401 refused_by=signature
//
// the time of day, the level, the message, then the attributes as
// key=value, a value quoted (Go syntax) only when it is empty or holds a
// space, a quote, an '=' or a character that is not printable.
type textHandler struct {
	level  slog.Leveler
	out    *output
	attrs  []byte // from WithAttrs, formatted
	prefix string // from WithGroup: "group."
}

// output is the writer that the handlers of one logger share, with the
// lock that keeps their lines whole.
type output struct {
	mu sync.Mutex
	w  io.Writer
}

func newTextHandler(w io.Writer, level slog.Leveler) textHandler {
	return textHandler{level: level, out: &output{w: w}}
}

func (t textHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= t.level.Level()
}

func (t textHandler) Handle(_ context.Context, r slog.Record) error {
	buf := make([]byte, 0, 256)
	if !r.Time.IsZero() {
		buf = r.Time.AppendFormat(buf, "15:04:05.000")
		buf = append(buf, ' ')
	}
	buf = append(buf, r.Level.String()...)
	buf = append(buf, ' ')
	buf = append(buf, r.Message...)
	buf = append(buf, t.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, t.prefix, a)
		return true
	})
	buf = append(buf, '\n')
	t.out.mu.Lock()
	defer t.out.mu.Unlock()
	_, err := t.out.w.Write(buf)
	return err
}

func (t textHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	own := append([]byte(nil), t.attrs...)
	for _, a := range attrs {
		own = appendAttr(own, t.prefix, a)
	}
	t.attrs = own
	return t
}

func (t textHandler) WithGroup(name string) slog.Handler {
	if name != "" {
		t.prefix += name + "."
	}
	return t
}

// appendAttr appends " key=value", a group's members each with the
// group's name before their key; an empty attribute is left out, as slog
// asks of handlers.
func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, m := range a.Value.Group() {
			buf = appendAttr(buf, prefix, m)
		}
		return buf
	}
	buf = append(buf, ' ')
	buf = append(buf, prefix...)
	buf = append(buf, a.Key...)
	buf = append(buf, '=')
	var s string
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		s = v.String()
	case slog.KindTime:
		s = v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		s = fmt.Sprint(v.Any())
	default:
		s = v.String()
	}
	if needsQuotes(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func needsQuotes(s string) bool {
	if s == "" {
		return true
	}
	for _, c := range s {
		if c == ' ' || c == '"' || c == '=' || c == utf8.RuneError || !unicode.IsPrint(c) {
			return true
		}
	}
	return false
}
