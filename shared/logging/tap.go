package logging

import (
	"context"
	"log/slog"
)

// tapKey is the context key of a request's tap.
type tapKey struct{}

// WithTap returns a copy of ctx whose log records, from any logger made by
// New and logged with ctx or a context derived from it (InfoContext,
// LogAttrs), are also passed to tap, with the logger's own attributes
// (With) added: every record at info level or above, whatever level the
// logger writes at, so that LOG_LEVEL=warn hides nothing from the tap. It is how a local tool
// (the local runner's inspector) sees what happened to the one request it
// is serving, without the request path knowing about it; deployed
// functions never set a tap.
//
// tap runs on the logging goroutine and must not log; it may keep r only
// as r.Clone().
func WithTap(ctx context.Context, tap func(r slog.Record)) context.Context {
	return context.WithValue(ctx, tapKey{}, tap)
}

// tapHandler passes each record to its context's tap as well as to h.
type tapHandler struct {
	h      slog.Handler
	attrs  []slog.Attr // from WithAttrs, group-qualified
	prefix string      // from WithGroup: "group."
}

func (t tapHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return t.h.Enabled(ctx, level) || (level >= slog.LevelInfo && ctx.Value(tapKey{}) != nil)
}

func (t tapHandler) Handle(ctx context.Context, r slog.Record) error {
	if tap, ok := ctx.Value(tapKey{}).(func(slog.Record)); ok && r.Level >= slog.LevelInfo {
		c := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
		c.AddAttrs(t.attrs...)
		r.Attrs(func(a slog.Attr) bool {
			a.Key = t.prefix + a.Key
			c.AddAttrs(a)
			return true
		})
		tap(c)
	}
	if !t.h.Enabled(ctx, r.Level) {
		return nil
	}
	return t.h.Handle(ctx, r)
}

func (t tapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	own := make([]slog.Attr, 0, len(t.attrs)+len(attrs))
	own = append(own, t.attrs...)
	for _, a := range attrs {
		a.Key = t.prefix + a.Key
		own = append(own, a)
	}
	return tapHandler{h: t.h.WithAttrs(attrs), attrs: own, prefix: t.prefix}
}

func (t tapHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return t
	}
	return tapHandler{h: t.h.WithGroup(name), attrs: t.attrs, prefix: t.prefix + name + "."}
}
