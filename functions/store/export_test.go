package store

import (
	"context"

	"cloud.google.com/go/bigquery"
)

// CreateTable creates the events table in dataset as tableMetadata
// describes it, creating the dataset too when it is missing; tables and
// datasets that already exist are left as they are. Production tables come
// from the terraform; this is for tests. On the
// BigQuery emulator use createEmulatorTable.
func CreateTable(ctx context.Context, client *bigquery.Client, dataset, table string) error {
	md, err := tableMetadata()
	if err != nil {
		return err
	}
	return createTable(ctx, client, dataset, table, md)
}
