# Store: a verified webhook becomes one BigQuery row, and a payload above
# 8 MiB an object of the payload bucket first. Everything here is keyed on
# var.enable_store.

locals {
  # The one schema (functions/store/schema.json, also read by the Go
  # writer), the dedup view over it (functions/store/dedup_view.sql, with
  # the ${table} placeholder for the table's full name) and the
  # time-bounded dedup read (functions/store/dedup_between.sql, also run by
  # the Go tests as a query).
  store_schema_file  = "${path.module}/../functions/store/schema.json"
  store_view_file    = "${path.module}/../functions/store/dedup_view.sql"
  store_between_file = "${path.module}/../functions/store/dedup_between.sql"
  store_table_name   = var.enable_store ? "${var.project_id}.${google_bigquery_dataset.store[0].dataset_id}.${google_bigquery_table.events[0].table_id}" : ""
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
    query          = templatefile(local.store_view_file, { table = local.store_table_name })
    use_legacy_sql = false
  }
}

# events_between(start_ts, end_ts): one row per event first received in
# [start_ts, end_ts), reading the partitions of the range and of the retry
# horizon before it, where the view above reads the whole table.
resource "google_bigquery_routine" "events_between" {
  count = var.enable_store ? 1 : 0

  project      = var.project_id
  dataset_id   = google_bigquery_dataset.store[0].dataset_id
  routine_id   = "${var.bigquery_table}_between"
  routine_type = "TABLE_VALUED_FUNCTION"
  language     = "SQL"
  description  = "Deduplicated ${var.bigquery_table} first received in [start_ts, end_ts); reads the range plus ${var.store_retry_horizon_days} days before it."
  definition_body = templatefile(local.store_between_file, {
    table              = local.store_table_name
    start_ts           = "start_ts"
    end_ts             = "end_ts"
    retry_horizon_days = var.store_retry_horizon_days
  })

  arguments {
    name      = "start_ts"
    data_type = jsonencode({ typeKind = "TIMESTAMP" })
  }
  arguments {
    name      = "end_ts"
    data_type = jsonencode({ typeKind = "TIMESTAMP" })
  }
}

# Payloads too large for a row (above 8 MiB), one object per event:
# <source>/<yyyy>/<mm>/<dd>/<event id>.json. Private (uniform access,
# public access prevention enforced); what the rows point to is kept as
# long as var.payload_bucket says.
resource "google_storage_bucket" "payloads" {
  count = var.enable_store ? 1 : 0

  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-payloads"
  location                    = coalesce(var.payload_bucket.location, var.region)
  storage_class               = var.payload_bucket.storage_class
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = var.labels

  dynamic "retention_policy" {
    for_each = var.payload_bucket.retention_days != null ? [var.payload_bucket.retention_days] : []
    content {
      retention_period = retention_policy.value * 86400
    }
  }

  dynamic "lifecycle_rule" {
    for_each = var.payload_bucket.delete_after_days != null ? [var.payload_bucket.delete_after_days] : []
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  dynamic "encryption" {
    for_each = var.payload_bucket.kms_key_name != null ? [var.payload_bucket.kms_key_name] : []
    content {
      default_kms_key_name = encryption.value
    }
  }

  # The Cloud Storage service agent must be able to use the key before
  # the bucket names it.
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.payloads]
}

# CMEK: Cloud Storage encrypts with the key as its own service agent.
data "google_storage_project_service_account" "this" {
  count   = var.enable_store && var.payload_bucket.kms_key_name != null ? 1 : 0
  project = var.project_id
}

resource "google_kms_crypto_key_iam_member" "payloads" {
  count = var.enable_store && var.payload_bucket.kms_key_name != null ? 1 : 0

  crypto_key_id = var.payload_bucket.kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${data.google_storage_project_service_account.this[0].email_address}"
}

# Store writes a payload once and reads it back only to compare a retry's
# bytes: storage.objects.create and .get, no list, no delete, no overwrite
# (which would need delete). No predefined role is that narrow
# (objectCreator lacks get, objectViewer adds list, objectUser adds delete).
resource "google_project_iam_custom_role" "store_payloads" {
  count = var.enable_store ? 1 : 0

  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_store_payloads"
  title       = "Store payload writer"
  description = "Create and read objects of the Store's payload bucket; granted on that bucket only."
  permissions = ["storage.objects.create", "storage.objects.get"]
}

resource "google_storage_bucket_iam_member" "store_payloads" {
  count = var.enable_store ? 1 : 0

  bucket = google_storage_bucket.payloads[0].name
  role   = google_project_iam_custom_role.store_payloads[0].id
  member = "serviceAccount:${google_service_account.store[0].email}"
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

  # GOMEMLIMIT=36MiB (runtime/debug's SetMemoryLimit documents it): a
  # soft limit on the memory the Go runtime manages, past which it
  # collects however little the heap has grown. Under 80 concurrent 64 KiB
  # bodies through the Storage Write API, Store's peak resident set falls
  # from ~72 to ~52 MiB (the binary's own pages, ~20 MiB, are outside the
  # limit). Go's default GOGC, unlike the GOGC=50 this replaces, leaves the
  # first collection at 4 MB of heap, after the first answer: a limit costs
  # a cold start nothing (docs/performance.md, "Memory of one instance
  # under load"). Only Store: Relay's and Trigger's memory has no such
  # bound to meet.
  deployment            = merge(local.function_deployment, { runtime_environment = { GOMEMLIMIT = "36MiB" } })
  name                  = "${var.name_prefix}-store"
  entry_point           = "Store"
  description           = "Store: verified webhooks to BigQuery rows."
  code                  = local.function_sources.store
  service_account_email = google_service_account.store[0].email
  settings              = var.store_function
  public                = true
  environment_variables = merge(local.common_env, {
    BIGQUERY_DATASET     = google_bigquery_dataset.store[0].dataset_id
    BIGQUERY_TABLE       = google_bigquery_table.events[0].table_id
    STORE_PAYLOAD_BUCKET = google_storage_bucket.payloads[0].name
  })
  wait_for = concat(
    local.build_grant_ids,
    [google_bigquery_dataset_iam_member.store_writer[0].id, google_storage_bucket_iam_member.store_payloads[0].id],
    local.secret_grant_ids.store,
  )
}
