package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The BigQuery emulator, for local runs and tests: production tables come
// from the terraform (terraform/store.tf), but an emulator starts empty,
// so the Store creates the dataset, table and dedup view there before its
// first append.

// emulatorClients is the Storage Write client of the emulator the
// settings name (BIGQUERY_STORAGE_EMULATOR_HOST, without TLS or
// credentials), handed out once the emulator has the events table and its
// view (BIGQUERY_EMULATOR_HOST, its REST API).
type emulatorClients struct {
	s      settings
	client *writeClient

	mu    sync.Mutex
	ready bool // dataset, table and view exist
}

var _ writeClients = (*emulatorClients)(nil)

func newEmulatorClients(s settings) *emulatorClients {
	return &emulatorClients{s: s, client: newWriteClient(s.Project,
		option.WithEndpoint(s.StorageEmulatorHost),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	)}
}

func (e *emulatorClients) writeClient(ctx context.Context) (*managedwriter.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.ready {
		if err := prepareEmulator(ctx, e.s); err != nil {
			return nil, err
		}
		e.ready = true
	}
	return e.client.writeClient(ctx)
}

func (e *emulatorClients) close() error { return e.client.close() }

// prepareEmulator creates the dataset, table and dedup view, which an
// emulator lacks when it starts.
func prepareEmulator(ctx context.Context, s settings) error {
	bq, err := newEmulatorClient(ctx, s.Project, s.EmulatorHost)
	if err != nil {
		return err
	}
	defer bq.Close()
	if err := createEmulatorTable(ctx, bq, s.Dataset, s.Table); err != nil {
		return err
	}
	return createDedupView(ctx, bq, s.Dataset, viewName(s.Table), s.Table)
}

// newEmulatorClient returns a BigQuery client of the emulator's REST API.
func newEmulatorClient(ctx context.Context, project, host string) (*bigquery.Client, error) {
	c, err := bigquery.NewClient(ctx, project,
		option.WithEndpoint("http://"+host),
		option.WithoutAuthentication(),
	)
	if err != nil {
		return nil, fmt.Errorf("store: bigquery.NewClient(%s): %w", host, err)
	}
	return c, nil
}

// emulatorTableMetadata is tableMetadata with the JSON columns made
// STRING, for the BigQuery emulator (v0.6.6). The emulator stores a JSON
// value written through the Storage Write API as a JSON string holding the
// text (`"{\"a\":1}"`) rather than the parsed value, so JSON_VALUE and
// friends find nothing in it; in a STRING column the same text reads back
// exactly, and BigQuery's JSON functions accept JSON text in STRING
// columns. The rows written are the same either way: a JSON column takes
// its value as text in the proto row.
func emulatorTableMetadata() (*bigquery.TableMetadata, error) {
	md, err := tableMetadata()
	if err != nil {
		return nil, err
	}
	for _, f := range md.Schema {
		if f.Type == bigquery.JSONFieldType {
			f.Type = bigquery.StringFieldType
		}
	}
	return md, nil
}

// createEmulatorTable creates the events table in dataset as
// emulatorTableMetadata describes it, creating the dataset too when it is
// missing; tables and datasets that already exist are left as they are.
func createEmulatorTable(ctx context.Context, client *bigquery.Client, dataset, table string) error {
	md, err := emulatorTableMetadata()
	if err != nil {
		return err
	}
	return createTable(ctx, client, dataset, table, md)
}

func createTable(ctx context.Context, client *bigquery.Client, dataset, table string, md *bigquery.TableMetadata) error {
	ds := client.Dataset(dataset)
	// Look before creating: the emulator answers a second create with 500,
	// not 409.
	if _, err := ds.Metadata(ctx); notFound(err) {
		if err := ds.Create(ctx, nil); err != nil && !alreadyExists(err) {
			return fmt.Errorf("store: create dataset %s: %w", dataset, err)
		}
	} else if err != nil {
		return fmt.Errorf("store: dataset %s: %w", dataset, err)
	}
	return createIfMissing(ctx, ds.Table(table), md)
}

// createIfMissing creates t unless it exists.
func createIfMissing(ctx context.Context, t *bigquery.Table, md *bigquery.TableMetadata) error {
	_, err := t.Metadata(ctx)
	if err == nil {
		return nil
	}
	if !notFound(err) {
		return fmt.Errorf("store: table %s.%s: %w", t.DatasetID, t.TableID, err)
	}
	if err := t.Create(ctx, md); err != nil && !alreadyExists(err) {
		return fmt.Errorf("store: create %s.%s: %w", t.DatasetID, t.TableID, err)
	}
	return nil
}

// createDedupView creates view (viewName(table) by convention) in dataset
// over the events table, keeping one row per (source, event_id): the
// earliest delivery. An existing view is left as it is.
func createDedupView(ctx context.Context, client *bigquery.Client, dataset, view, table string) error {
	query := dedupViewSQL(fmt.Sprintf("%s.%s.%s", client.Project(), dataset, table))
	md := &bigquery.TableMetadata{ViewQuery: query}
	if err := createIfMissing(ctx, client.Dataset(dataset).Table(view), md); err != nil {
		return fmt.Errorf("store: dedup view: %w", err)
	}
	return nil
}

func alreadyExists(err error) bool {
	var apiErr *googleapi.Error
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusConflict
}

func notFound(err error) bool {
	var apiErr *googleapi.Error
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusNotFound
}
