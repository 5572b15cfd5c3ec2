package store

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/managedwriter/adapt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/cloudhooks/webhooks/shared/event"
)

// schemaJSON is the events table's schema in BigQuery's JSON schema format,
// the one definition shared with the terraform (file("…/schema.json")).
//
//go:embed schema.json
var schemaJSON []byte

// dedupViewTemplate is the deduplicated view's query, with ${table} standing for
// the fully qualified table; the terraform renders it with templatefile().
//
//go:embed dedup_view.sql
var dedupViewTemplate string

// dedupBetweenTemplate is the body of the time-bounded deduplicated read, the
// table function tableFunctionName(table); placeholders as dedupBetweenSQL
// describes.
//
//go:embed dedup_between.sql
var dedupBetweenTemplate string

// retryHorizonDays is how far before a range's start the first delivery of
// an event in the range may lie: the longest provider retry schedule
// (Stripe retries for 3 days). The terraform's store_retry_horizon_days
// defaults to it.
const retryHorizonDays = 3

// viewName returns the name of the dedup view over table: table +
// "_latest", the name the terraform gives it (terraform/store.tf).
func viewName(table string) string { return table + "_latest" }

// tableFunctionName returns the name of the time-bounded deduplicated read
// over table: table + "_between", the routine the terraform creates.
func tableFunctionName(table string) string { return table + "_between" }

// dedupBetweenSQL returns the table function's body over table (given as
// project.dataset.table) as a query of its own, with the range as the
// query parameters @start_ts and @end_ts: the same text the terraform
// makes the routine of, for the BigQuery emulator, which has no table
// functions, and for clients that prefer a query.
func dedupBetweenSQL(table string, horizonDays int) string {
	return strings.NewReplacer(
		"${table}", table,
		"${start_ts}", "@start_ts",
		"${end_ts}", "@end_ts",
		"${retry_horizon_days}", strconv.Itoa(horizonDays),
	).Replace(dedupBetweenTemplate)
}

// Table layout that the terraform declares too; terraform/terraform_test.go
// is the place to check that both agree.
const (
	// PartitionField is the TIMESTAMP column the table is partitioned on,
	// by day.
	PartitionField = "received_at"
	// PartitionType is the time partitioning granularity.
	PartitionType = bigquery.DayPartitioningType
)

// ClusteringFields are the columns the table is clustered by, in order:
// queries filter by source first, then by event type.
func ClusteringFields() []string { return []string{"source", "event_type"} }

// Schema returns the events table's schema, parsed from schema.json.
func Schema() (bigquery.Schema, error) {
	s, err := bigquery.SchemaFromJSON(schemaJSON)
	if err != nil {
		return nil, fmt.Errorf("store.Schema: parse schema.json: %w", err)
	}
	return s, nil
}

// tableMetadata returns the events table's schema, partitioning and
// clustering, for tests and local runs that create the table themselves.
func tableMetadata() (*bigquery.TableMetadata, error) {
	s, err := Schema()
	if err != nil {
		return nil, err
	}
	return &bigquery.TableMetadata{
		Schema:           s,
		TimePartitioning: &bigquery.TimePartitioning{Type: PartitionType, Field: PartitionField},
		Clustering:       &bigquery.Clustering{Fields: ClusteringFields()},
	}, nil
}

// dedupViewSQL returns the deduplicated view's query over table, given as
// project.dataset.table.
func dedupViewSQL(table string) string {
	return strings.ReplaceAll(dedupViewTemplate, "${table}", table)
}

// rowSchema is the proto form of schema.json that the Storage Write API
// takes: the message descriptor rows are built with, and its normalized
// DescriptorProto sent once per stream.
type rowSchema struct {
	msg   protoreflect.MessageDescriptor
	proto *descriptorpb.DescriptorProto

	source, eventID, eventType, schemaVersion, receivedAt, headers, payload,
	payloadURI, payloadBytes protoreflect.FieldDescriptor
}

// loadRowSchema derives the row descriptor from schema.json once per
// process: a schema that does not convert is a build error of ours, so the
// error is kept and returned to every caller.
var loadRowSchema = sync.OnceValues(func() (*rowSchema, error) {
	s, err := Schema()
	if err != nil {
		return nil, err
	}
	ts, err := adapt.BQSchemaToStorageTableSchema(s)
	if err != nil {
		return nil, fmt.Errorf("store: convert schema: %w", err)
	}
	d, err := adapt.StorageSchemaToProto2Descriptor(ts, "event_row")
	if err != nil {
		return nil, fmt.Errorf("store: schema to proto descriptor: %w", err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("store: schema descriptor is a %T, not a message", d)
	}
	dp, err := adapt.NormalizeDescriptor(md)
	if err != nil {
		return nil, fmt.Errorf("store: normalize descriptor: %w", err)
	}
	rs := &rowSchema{msg: md, proto: dp}
	fields := map[string]*protoreflect.FieldDescriptor{
		"source": &rs.source, "event_id": &rs.eventID, "event_type": &rs.eventType,
		"schema_version": &rs.schemaVersion, "received_at": &rs.receivedAt,
		"headers": &rs.headers, "payload": &rs.payload,
		"payload_uri": &rs.payloadURI, "payload_bytes": &rs.payloadBytes,
	}
	for name, dst := range fields {
		if *dst = md.Fields().ByName(protoreflect.Name(name)); *dst == nil {
			return nil, fmt.Errorf("store: schema.json has no column %q", name)
		}
	}
	return rs, nil
})

// row is one event as stored: the columns of schema.json. The local sink
// writes it as one JSON line, so both sinks hold the same fields.
type row struct {
	Source        string          `json:"source"`
	EventID       string          `json:"event_id"`
	EventType     string          `json:"event_type,omitempty"`
	SchemaVersion string          `json:"schema_version,omitempty"`
	ReceivedAt    string          `json:"received_at"`
	Headers       json.RawMessage `json:"headers,omitempty"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	PayloadURI    string          `json:"payload_uri,omitempty"`
	PayloadBytes  int64           `json:"payload_bytes,omitempty"`
}

// errInvalidEvent marks an event that cannot become a row (a required
// column empty, a payload that is not JSON): no retry can fix it.
var errInvalidEvent = errors.New("event cannot be stored")

// checkEvent refuses an event that cannot become a row, before anything
// of it is stored.
func checkEvent(ev *event.Event) error {
	switch {
	case ev.Source == "":
		return fmt.Errorf("%w: no source", errInvalidEvent)
	case ev.ID == "":
		return fmt.Errorf("%w: no event id", errInvalidEvent)
	case ev.ReceivedAt.IsZero():
		return fmt.Errorf("%w: no receive time", errInvalidEvent)
	// The payload is not scanned again, for its JSON syntax or its UTF-8:
	// the pipeline has refused any other body (400) with the same reading
	// for every function, and scanning it twice cost about as much as the
	// rest of the row. Were one to slip through, BigQuery refuses the
	// row's JSON column and that event alone fails (422).
	case !utf8.ValidString(ev.Source) || !utf8.ValidString(ev.ID) || !utf8.ValidString(ev.Type) ||
		!utf8.ValidString(ev.SchemaVersion):
		// BigQuery refuses text that is not UTF-8; refused here, such a row
		// cannot fail the append that it would share with other events.
		return fmt.Errorf("%w: text that is not UTF-8", errInvalidEvent)
	}
	return nil
}

// newRow returns the row of ev: with its payload, or, when payloadURI is
// set, with a reference to where the payload was stored instead.
func newRow(ev *event.Event, payloadURI string) (row, error) {
	if err := checkEvent(ev); err != nil {
		return row{}, err
	}
	r := row{
		Source:        ev.Source,
		EventID:       ev.ID,
		EventType:     ev.Type,
		SchemaVersion: ev.SchemaVersion,
		ReceivedAt:    ev.ReceivedAt.UTC().Format("2006-01-02T15:04:05.000000Z"),
	}
	if len(ev.Headers) > 0 {
		h, err := json.Marshal(ev.Headers)
		if err != nil {
			return row{}, fmt.Errorf("%w: headers: %w", errInvalidEvent, err)
		}
		r.Headers = h
	}
	if len(ev.Payload) > 0 {
		r.PayloadBytes = int64(len(ev.Payload))
		r.Payload = ev.Payload
	}
	if payloadURI != "" {
		r.Payload, r.PayloadURI = nil, payloadURI
	}
	return r, nil
}

// encodeRow serializes the row of ev (see newRow) as a proto row of
// schema.json: TIMESTAMP as microseconds since the epoch, JSON columns as
// their JSON text, as the Storage Write API takes them. (The emulator, v0.6.6, misreads the
// sub-second part of such a TIMESTAMP; BigQuery does not.)
func encodeRow(rs *rowSchema, ev *event.Event, payloadURI string) ([]byte, error) {
	r, err := newRow(ev, payloadURI)
	if err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(rs.msg)
	m.Set(rs.source, protoreflect.ValueOfString(r.Source))
	m.Set(rs.eventID, protoreflect.ValueOfString(r.EventID))
	m.Set(rs.receivedAt, protoreflect.ValueOfInt64(ev.ReceivedAt.UnixMicro()))
	if r.EventType != "" {
		m.Set(rs.eventType, protoreflect.ValueOfString(r.EventType))
	}
	if r.SchemaVersion != "" {
		m.Set(rs.schemaVersion, protoreflect.ValueOfString(r.SchemaVersion))
	}
	if r.Headers != nil {
		m.Set(rs.headers, protoreflect.ValueOfString(string(r.Headers)))
	}
	if r.Payload != nil {
		m.Set(rs.payload, protoreflect.ValueOfString(string(r.Payload)))
	}
	if r.PayloadURI != "" {
		m.Set(rs.payloadURI, protoreflect.ValueOfString(r.PayloadURI))
	}
	if r.PayloadBytes > 0 {
		m.Set(rs.payloadBytes, protoreflect.ValueOfInt64(r.PayloadBytes))
	}
	// newRow has checked the REQUIRED columns; AllowPartial skips
	// proto's own walk over them, a tenth of the encoding.
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("store: encode row: %w", err)
	}
	return b, nil
}
