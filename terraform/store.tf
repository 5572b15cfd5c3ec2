# Store: a verified webhook becomes one BigQuery row. Everything here is
# keyed on var.enable_store.

locals {
  # The one schema (functions/store/schema.json, also read by the Go
  # writer) and the dedup view over it (functions/store/dedup_view.sql, with
  # the ${table} placeholder for the table's full name).
  store_schema_file = "${path.module}/../functions/store/schema.json"
  store_view_file   = "${path.module}/../functions/store/dedup_view.sql"
}

resource "google_service_account" "store" {
  count = var.enable_store ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-store"
  display_name = "Store function (webhooks to BigQuery)"

  depends_on = [google_project_service.apis]
}

resource "google_bigquery_dataset" "store" {
  count = var.enable_store ? 1 : 0

  project                    = var.project_id
  dataset_id                 = var.bigquery_dataset
  location                   = coalesce(var.bigquery_location, var.region)
  description                = "Webhook events stored by the Store function."
  delete_contents_on_destroy = !var.deletion_protection
  labels                     = var.labels

  depends_on = [google_project_service.apis]
}

resource "google_bigquery_table" "events" {
  count = var.enable_store ? 1 : 0

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.store[0].dataset_id
  table_id            = var.bigquery_table
  description         = "One row per accepted webhook; retries of one event are deduplicated by the ${var.bigquery_table}_latest view."
  schema              = file(local.store_schema_file)
  deletion_protection = var.deletion_protection
  labels              = var.labels

  time_partitioning {
    type  = "DAY"
    field = "received_at"
  }

  clustering = ["source", "event_type"]
}

resource "google_bigquery_table" "events_latest" {
  count = var.enable_store ? 1 : 0

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.store[0].dataset_id
  table_id            = "${var.bigquery_table}_latest"
  description         = "One row per (source, event_id): the deduplicated view of ${var.bigquery_table}."
  deletion_protection = false
  labels              = var.labels

  view {
    query          = templatefile(local.store_view_file, { table = "${var.project_id}.${google_bigquery_dataset.store[0].dataset_id}.${google_bigquery_table.events[0].table_id}" })
    use_legacy_sql = false
  }
}

# roles/bigquery.dataEditor on the dataset only: it carries
# bigquery.tables.updateData, which the Storage Write API needs to append
# rows. No roles/bigquery.jobUser: the writer runs no query or load jobs.
resource "google_bigquery_dataset_iam_member" "store_writer" {
  count = var.enable_store ? 1 : 0

  project    = var.project_id
  dataset_id = google_bigquery_dataset.store[0].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.store[0].email}"
}

module "store" {
  source = "./modules/function"
  count  = var.enable_store ? 1 : 0

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name_prefix}-store"
  entry_point           = "Store"
  description           = "Store: verified webhooks to BigQuery rows."
  labels                = var.labels
  runtime               = var.go_runtime
  build_service_account = local.build_service_account
  source_root           = local.source_root
  root_files            = local.function_sources.store.root_files
  packages              = local.function_sources.store.packages
  build_dir             = local.build_dir
  source_bucket         = google_storage_bucket.source[0].name
  service_account_email = google_service_account.store[0].email
  settings              = var.store_function
  public                = true
  environment_variables = merge(local.common_env, {
    BIGQUERY_DATASET = google_bigquery_dataset.store[0].dataset_id
    BIGQUERY_TABLE   = google_bigquery_table.events[0].table_id
  })
  wait_for = concat(
    local.build_grant_ids,
    [google_bigquery_dataset_iam_member.store_writer[0].id],
    local.secret_grant_ids.store,
  )
}
