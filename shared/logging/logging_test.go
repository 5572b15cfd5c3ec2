package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewWritesCloudLoggingFields(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, slog.LevelDebug).Warn("hello", "source", "github")
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, buf.String())
	}
	for key, want := range map[string]any{"severity": "WARNING", "message": "hello", "source": "github"} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (line %s)", key, got[key], want, buf.String())
		}
	}
}

func TestTraceReadsEitherHeader(t *testing.T) {
	const trace = "105445aa7843bc8bf206b12000100000"
	tests := []struct {
		name, header, value string
		wantTrace, wantSpan string
		wantSampled         bool
	}{
		{"traceparent", "Traceparent", "00-" + trace + "-00f067aa0ba902b7-01", trace, "00f067aa0ba902b7", true},
		{"cloud trace context", "X-Cloud-Trace-Context", trace + "/123;o=1", trace, "123", true},
		{"cloud trace unsampled", "X-Cloud-Trace-Context", trace + "/123;o=0", trace, "123", false},
		{"malformed traceparent", "Traceparent", "00-nothex-00f067aa0ba902b7-01", "", "", false},
		{"malformed cloud trace", "X-Cloud-Trace-Context", "short/1", "", "", false},
		{"none", "", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			if tt.header != "" {
				r.Header.Set(tt.header, tt.value)
			}
			attrs := map[string]any{}
			for _, a := range Trace(r, "proj") {
				attrs[a.Key] = a.Value.Any()
			}
			if tt.wantTrace == "" {
				if len(attrs) != 0 {
					t.Fatalf("got trace attributes %v for %q", attrs, tt.value)
				}
				return
			}
			if got := attrs["logging.googleapis.com/trace"]; got != "projects/proj/traces/"+tt.wantTrace {
				t.Errorf("trace = %v", got)
			}
			if got := attrs["logging.googleapis.com/spanId"]; got != tt.wantSpan {
				t.Errorf("span = %v, want %v", got, tt.wantSpan)
			}
			if got := attrs["logging.googleapis.com/trace_sampled"]; got != tt.wantSampled {
				t.Errorf("sampled = %v, want %v", got, tt.wantSampled)
			}
		})
	}
}

func FuzzTraceHeaders(f *testing.F) {
	f.Add("00-105445aa7843bc8bf206b12000100000-00f067aa0ba902b7-01", "105445aa7843bc8bf206b12000100000/1;o=1")
	f.Fuzz(func(t *testing.T, traceparent, cloud string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Traceparent", traceparent)
		r.Header.Set("X-Cloud-Trace-Context", cloud)
		_ = Trace(r, "p")
	})
}

// LOG_FORMAT=text (the local runner's default) writes one readable line
// per record: the time, the level, the message, then key=value pairs,
// quoted only when a value needs it; the logger's own attributes and
// groups are kept. Unset, or json, is Cloud Logging's JSON, as deployed.
func TestTextFormatIsOneReadableLinePerRecord(t *testing.T) {
	format, err := ParseFormat("text")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := NewFormat(&buf, slog.LevelInfo, format).With(FieldFunction, "Store")
	log.Warn("webhook request", "source", "stripe", "status", 401, "refused_by", "signature",
		"key_file", ".local/secrets/stripe-webhook-secret", "error", `stripe: verify: signature does not match: no key of 1 matched`)
	log.WithGroup("req").Info("second", "empty", "", "quote", `a"b`)
	log.Debug("hidden")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %d:\n%s", len(lines), buf.String())
	}
	first := lines[0]
	if json.Valid([]byte(first)) {
		t.Fatalf("text format wrote JSON: %s", first)
	}
	time, rest, _ := strings.Cut(first, " ")
	if len(time) != len("15:04:05.000") || time[2] != ':' || time[5] != ':' {
		t.Errorf("line does not start with the time of day: %s", first)
	}
	const want = `WARN webhook request function=Store source=stripe status=401 refused_by=signature ` +
		`key_file=.local/secrets/stripe-webhook-secret error="stripe: verify: signature does not match: no key of 1 matched"`
	if rest != want {
		t.Errorf("line\n%s\nwant\n%s", rest, want)
	}
	if _, rest, _ := strings.Cut(lines[1], " "); rest != `INFO second function=Store req.empty="" req.quote="a\"b"` {
		t.Errorf("grouped line: %s", lines[1])
	}
	for _, s := range []string{"", "json", "JSON"} {
		if f, err := ParseFormat(s); err != nil || f != JSON {
			t.Errorf("ParseFormat(%q) = %v, %v; want JSON", s, f, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil || err.Error() != `LOG_FORMAT="yaml": want json or text` {
		t.Errorf("ParseFormat(yaml) = %v", err)
	}
}

// The tap (the inspector) sees the records of a text logger too.
func TestTextFormatKeepsTheTap(t *testing.T) {
	var got []string
	ctx := WithTap(context.Background(), func(r slog.Record) { got = append(got, r.Message) })
	NewFormat(io.Discard, slog.LevelError, Text).InfoContext(ctx, "tapped")
	if len(got) != 1 || got[0] != "tapped" {
		t.Errorf("tap got %v", got)
	}
}
