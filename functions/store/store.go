// Package store is the Store function: each verified webhook event becomes
// one row of a BigQuery table, and the function answers 200 only once
// BigQuery has acknowledged the row.
//
// The shared pipeline verifies the request and builds the event; this
// package turns it into a row of the table schema (schema.go, schema.json)
// and writes it (writer.go, stream.go) through the Storage Write API's
// default stream. A payload above maxInlinePayloadBytes (8 MiB), more than
// one append can carry, is first written to the Cloud Storage bucket
// STORE_PAYLOAD_BUCKET as <source>/<yyyy>/<mm>/<dd>/<event id>.json
// (payloads.go), and its row holds payload_uri instead of payload. The
// settings are read once (settings.go); the sink is BigQuery's
// (bigquery.go), the emulator's, which creates its own tables
// (emulator.go), or a local folder (local.go).
//
// Concurrent requests share one append (group commit): the first row of a
// batch waits STORE_BATCH_WAIT (5 ms) for others, then the whole batch is
// sent, and every request of it returns once that one append is
// acknowledged.
//
// Delivery is at least once. Providers retry, and a request whose append
// outcome is unknown (BigQuery slow or unreachable, the stream broken while
// Cloud Run throttled the CPU) is answered 503 so the provider retries too:
// the table can hold an event more than once, never zero times. The view
// <table>_latest (dedup_view.sql, see viewName) keeps one row per
// (source, event_id) but reads the whole table whatever the filter; the
// table function <table>_between (dedup_between.sql, see
// tableFunctionName) reads only the partitions of the range asked for:
//
//	SELECT source, event_type, payload FROM `project.webhooks.events_between`(
//	  TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY), CURRENT_TIMESTAMP())
//
// Sources need no rules, only verification, in shared/config/webhooks.yaml:
//
//	store:
//	  sources:
//	    - name: github
//	      verify: {scheme: github, secret: sm:github-webhook-secret}
//
// The table comes from BIGQUERY_PROJECT (or GOOGLE_CLOUD_PROJECT),
// BIGQUERY_DATASET and BIGQUERY_TABLE; BIGQUERY_EMULATOR_HOST and
// BIGQUERY_STORAGE_EMULATOR_HOST point it at the emulator, which gets its
// dataset, table and view created on first use; STORAGE_EMULATOR_HOST
// points the payload bucket at a Cloud Storage emulator. With neither a project nor
// an emulator the rows go to WEBHOOKS_DATA_DIR/store/<source>.ndjson, one
// JSON object a line with the table's columns as fields, and large payloads
// to files under WEBHOOKS_DATA_DIR/store/payloads.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/pattern"
)

// resultStored is the Outcome.Result of a stored event.
const resultStored = "stored"

// lookupEnv is os.LookupEnv; a variable so that a test can read the
// settings from a map.
var lookupEnv = os.LookupEnv

// processSink is the process's one sink, made by the first NewPattern
// call and used by every source. A failed creation is not kept: the next
// call tries again.
var processSink struct {
	mu   sync.Mutex
	sink sink
}

// NewPattern returns the Store pattern for one configured source. All
// sources of a process share one sink (one writer, one stream), built
// lazily once from the environment on first call; a bad setting is an
// error naming the variable.
//
// Building the sink dials nothing: the BigQuery clients are created by the
// first event, so a cold start does not wait for them.
func NewPattern(ctx context.Context, src config.Source) (pattern.Pattern, error) {
	if src.Name == "" {
		return nil, errors.New("store: source without a name")
	}
	processSink.mu.Lock()
	defer processSink.mu.Unlock()
	if processSink.sink == nil {
		s, err := settingsFromEnv(lookupEnv)
		if err != nil {
			return nil, err
		}
		sk, err := newSink(s)
		if err != nil {
			return nil, err
		}
		processSink.sink = sk
	}
	return newPattern(processSink.sink), nil
}

// sink stores one event durably before returning.
type sink interface {
	store(ctx context.Context, ev *event.Event) error
	// close releases the sink's files or connections; tests call it.
	close() error
}

// newSink returns the sink the settings select: BigQuery (or its emulator)
// when a project or emulator is configured (bigquery.go, emulator.go), the
// local NDJSON folder otherwise (local.go). It dials nothing: clients are
// created on first use.
func newSink(s settings) (sink, error) {
	if s.local() {
		return newLocalSink(s.DataDir), nil
	}
	return newBigQuerySink(s)
}

// storePattern stores each event it handles in its sink.
type storePattern struct {
	sink sink
}

func newPattern(s sink) *storePattern { return &storePattern{sink: s} }

// Handle stores ev and returns once the row (and a large payload's object)
// is durably stored: 200 "stored". An event that can never become a row
// (no id, a payload that is not JSON, headers above the append limit, a row
// BigQuery refuses) is Unprocessable (422); any other failure, including
// not knowing whether the row was written, is Retryable (503).
func (p *storePattern) Handle(ctx context.Context, ev *event.Event) (pattern.Outcome, error) {
	if err := p.sink.store(ctx, ev); err != nil {
		return pattern.Outcome{}, classify(err)
	}
	return pattern.Outcome{Result: resultStored}, nil
}

// classify maps a sink error to the pipeline's retry classes.
func classify(err error) error {
	if errors.Is(err, errInvalidEvent) || errors.Is(err, errRowTooLarge) || errors.Is(err, errRowRefused) {
		return pattern.Unprocessable(err)
	}
	// Zero: the pipeline's default Retry-After.
	return pattern.Retryable(fmt.Errorf("store: %w", err), 0)
}
