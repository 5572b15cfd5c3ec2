package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/bigquery/storage/managedwriter"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/cloudhooks/webhooks/shared/event"
)

// newBigQuerySink returns the sink of the events table the settings name,
// on BigQuery or, when they point at one, on the emulator (emulator.go).
// It dials nothing: the client is created by the first append.
func newBigQuerySink(s settings) (*bigQuerySink, error) {
	rs, err := loadRowSchema()
	if err != nil {
		return nil, err
	}
	var clients writeClients = newWriteClient(s.Project)
	if s.EmulatorHost != "" || s.StorageEmulatorHost != "" {
		clients = newEmulatorClients(s)
	}
	stream := &defaultStream{
		clients:  clients,
		table:    managedwriter.TableParentFromParts(s.Project, s.Dataset, s.Table),
		schema:   rs,
		emulated: s.StorageEmulatorHost != "",
	}
	return &bigQuerySink{
		schema:   rs,
		clients:  clients,
		stream:   stream,
		writer:   newWriter(stream, s.Writer),
		payloads: newBucketStore(s.PayloadBucket, s.StorageEmulator),
	}, nil
}

// bigQuerySink writes events to the events table through the Storage
// Write API's default stream, with group commit, and payloads too large for
// a row to the payload bucket first.
type bigQuerySink struct {
	schema   *rowSchema
	clients  writeClients
	stream   *defaultStream
	writer   *writer
	payloads *bucketStore
}

// store returns once the row (and, for a large payload, its object
// before it) is durable.
func (b *bigQuerySink) store(ctx context.Context, ev *event.Event) error {
	row, err := rowWithin(ctx, b.payloads, ev, b.writer.opts.Bytes, func(ev *event.Event, uri string) ([]byte, error) {
		return encodeRow(b.schema, ev, uri)
	})
	if err != nil {
		return err
	}
	return b.writer.Write(ctx, row)
}

func (b *bigQuerySink) close() error {
	return errors.Join(b.stream.close(), b.payloads.close(), b.clients.close())
}

// writeClients is what the default stream opens its ManagedStreams with:
// the Storage Write client, created on first use.
type writeClients interface {
	writeClient(ctx context.Context) (*managedwriter.Client, error)
	close() error
}

// writeClient creates the Storage Write client on first use and keeps it;
// a failed creation is retried by the next request rather than kept
// forever.
type writeClient struct {
	project string
	opts    []option.ClientOption

	mu sync.Mutex
	mw *managedwriter.Client
}

var _ writeClients = (*writeClient)(nil)

func newWriteClient(project string, opts ...option.ClientOption) *writeClient {
	return &writeClient{project: project, opts: append([]option.ClientOption{
		// gRPC waits up to two minutes between reconnections after a
		// failure; a webhook cannot wait that long once BigQuery is back.
		option.WithGRPCDialOption(grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		})),
	}, opts...)}
}

func (c *writeClient) writeClient(ctx context.Context) (*managedwriter.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mw != nil {
		return c.mw, nil
	}
	// The client's context lives as long as the process: it carries every
	// stream the client opens.
	mw, err := managedwriter.NewClient(context.WithoutCancel(ctx), c.project, c.opts...)
	if err != nil {
		return nil, fmt.Errorf("store: managedwriter.NewClient: %w", err)
	}
	c.mw = mw
	return mw, nil
}

func (c *writeClient) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mw == nil {
		return nil
	}
	err := c.mw.Close()
	c.mw = nil
	return err
}
