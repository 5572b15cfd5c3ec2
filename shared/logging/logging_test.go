package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
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
