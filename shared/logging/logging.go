// Package logging writes structured JSON logs in the format Cloud Logging
// reads from a Cloud Run container's stdout: `severity`, `message`, `time`,
// and the trace fields that tie every line of a request to its trace. With
// LOG_FORMAT=text (the local runner's default) the same records are one
// readable line each instead (Text).
//
//	log := logging.New(os.Stdout, slog.LevelInfo)
//	log.InfoContext(ctx, "webhook request", logging.Trace(r, project)...)
//
// Nothing here knows about webhooks; callers decide what to log and never
// pass secret values.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
)

// The fields that say which event a line is about, named the same on
// every line: the request line of the pipeline, and the lines of the
// functions and of TriggerWorker about one event. Filter on function and
// source to follow one endpoint; on event_id to follow one event.
const (
	// FieldFunction is the entry point: Store, Relay, Trigger,
	// TriggerWorker.
	FieldFunction = "function"
	// FieldSource is the source's name, its URL path.
	FieldSource = "source"
	// FieldEventID is the event id (provider's delivery id or content
	// hash).
	FieldEventID = "event_id"
	// FieldEventType is the event type.
	FieldEventType = "event_type"
)

// New returns a logger that writes one Cloud Logging JSON object per line
// (and passes the records of a tapped context to its tap, see WithTap).
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return NewFormat(w, level, JSON)
}

// Format is how a logger writes its records.
type Format int

const (
	// JSON is one Cloud Logging JSON object per line: what Cloud Run's
	// logging reads, and the default.
	JSON Format = iota
	// Text is one line for a person at a terminal: the time of day, the
	// level, the message, then key=value pairs (the local runner's
	// default).
	Text
)

// EnvFormat names the variable that sets the log format: json (or unset)
// or text.
const EnvFormat = "LOG_FORMAT"

// ParseFormat reads a LOG_FORMAT value: json or text (any case); empty is
// json.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "json":
		return JSON, nil
	case "text":
		return Text, nil
	}
	return JSON, fmt.Errorf("%s=%q: want json or text", EnvFormat, s)
}

// NewFormat returns a logger that writes its records to w in format f
// (and passes the records of a tapped context to its tap, see WithTap).
func NewFormat(w io.Writer, level slog.Leveler, f Format) *slog.Logger {
	if f == Text {
		return slog.New(tapHandler{h: newTextHandler(w, level)})
	}
	return slog.New(tapHandler{h: slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: cloudLogging,
	})})
}

// EnvLevel names the variable that sets the log level.
const EnvLevel = "LOG_LEVEL"

// ParseLevel reads a LOG_LEVEL value: debug, info, warn or error (any
// case); empty is info.
func ParseLevel(s string) (slog.Level, error) {
	var level slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo, fmt.Errorf("%s=%q: want debug, info, warn or error", EnvLevel, s)
	}
	return level, nil
}

// FromEnv returns a logger to stdout at the level LOG_LEVEL names, in the
// format LOG_FORMAT names. An unknown level logs at info, an unknown
// format as JSON: the pipeline's start-up reports them
// (pipeline.OptionsFromEnv), so this stays usable for the error lines of
// a function that could not start.
func FromEnv() *slog.Logger {
	level, _ := ParseLevel(os.Getenv(EnvLevel))
	format, _ := ParseFormat(os.Getenv(EnvFormat))
	return NewFormat(os.Stdout, level, format)
}

// cloudLogging renames slog's standard keys to Cloud Logging's. slog's
// SourceKey is left alone: it is "source", which our request logs use for
// the webhook source, and loggers here never AddSource.
func cloudLogging(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		a.Key = "severity"
		if l, ok := a.Value.Any().(slog.Level); ok && l == slog.LevelWarn {
			a.Value = slog.StringValue("WARNING")
		}
	}
	return a
}

// Trace returns the attributes that correlate a log line with the request's
// trace, from X-Cloud-Trace-Context ("TRACE/SPAN;o=1") or W3C traceparent
// ("00-TRACE-SPAN-01"). It returns nothing when the request carries neither
// or when project is unknown (Cloud Logging needs the project in the name).
func Trace(r *http.Request, project string) []slog.Attr {
	if project == "" {
		return nil
	}
	trace, span, sampled := parseTraceparent(r.Header.Get("Traceparent"))
	if trace == "" {
		trace, span, sampled = parseCloudTrace(r.Header.Get("X-Cloud-Trace-Context"))
	}
	if trace == "" {
		return nil
	}
	attrs := []slog.Attr{slog.String("logging.googleapis.com/trace", "projects/"+project+"/traces/"+trace)}
	if span != "" {
		attrs = append(attrs, slog.String("logging.googleapis.com/spanId", span))
	}
	return append(attrs, slog.Bool("logging.googleapis.com/trace_sampled", sampled))
}

func parseTraceparent(h string) (trace, span string, sampled bool) {
	parts := strings.Split(h, "-")
	if len(parts) != 4 || len(parts[1]) != 32 || len(parts[2]) != 16 || !isHex(parts[1]) || !isHex(parts[2]) {
		return "", "", false
	}
	return parts[1], parts[2], strings.HasSuffix(parts[3], "1")
}

func parseCloudTrace(h string) (trace, span string, sampled bool) {
	trace, rest, _ := strings.Cut(h, "/")
	if len(trace) != 32 || !isHex(trace) {
		return "", "", false
	}
	span, opts, _ := strings.Cut(rest, ";")
	for _, c := range span {
		if c < '0' || c > '9' {
			span = ""
			break
		}
	}
	return trace, span, opts == "o=1"
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}
