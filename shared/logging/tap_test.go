package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// A tapped context sees its own records, with the logger's attributes and
// groups, from info level up even when the logger writes only warnings;
// other contexts' records never reach it, and the log itself is unchanged.
func TestWithTapSeesOnlyItsContextsRecords(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelWarn).With("function", "Store")
	var got []string
	ctx := WithTap(context.Background(), func(r slog.Record) {
		line := r.Message
		r.Attrs(func(a slog.Attr) bool {
			line += " " + a.Key + "=" + a.Value.String()
			return true
		})
		got = append(got, line)
	})
	log.WarnContext(ctx, "webhook request", "status", 401)
	log.WithGroup("g").InfoContext(ctx, "grouped", "k", "v")
	log.DebugContext(ctx, "debug")
	log.WarnContext(context.Background(), "another request")
	log.Warn("no context")

	want := []string{"webhook request function=Store status=401", "grouped function=Store g.k=v"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tap saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 || strings.Contains(buf.String(), "grouped") {
		t.Errorf("log has %d lines, want the 3 warnings:\n%s", n, buf.String())
	}
}
