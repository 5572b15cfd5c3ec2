# The idempotency claims of Relay and Trigger: one Firestore database
# (native mode) and a TTL policy that deletes a claim after its expires_at.
# Keyed on var.enable_relay || var.enable_trigger.

locals {
  claims_enabled = var.enable_relay || var.enable_trigger
  # Functions that claim events: Relay, Trigger and the TriggerWorker (which
  # claims jobs, since Pub/Sub delivers at least once).
  claims_users = merge(
    var.enable_relay ? { relay = google_service_account.relay[0].email } : {},
    var.enable_trigger ? {
      trigger        = google_service_account.trigger[0].email
      trigger_worker = google_service_account.trigger_worker[0].email
    } : {},
  )
}

resource "google_firestore_database" "claims" {
  count = local.claims_enabled ? 1 : 0

  project                 = var.project_id
  name                    = var.firestore_database
  location_id             = var.region
  type                    = "FIRESTORE_NATIVE"
  concurrency_mode        = "OPTIMISTIC"
  delete_protection_state = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy         = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.apis]
}

# TTL on the claims' expires_at: Firestore deletes expired claims (within
# about a day of expiry), so the collection does not grow forever. The empty
# index_config drops the single-field indexes of this monotonically
# increasing timestamp, as Firestore recommends for TTL fields; claims are
# read by document id only.
resource "google_firestore_field" "claims_ttl" {
  count = local.claims_enabled ? 1 : 0

  project    = var.project_id
  database   = google_firestore_database.claims[0].name
  collection = var.idempotency_collection
  field      = "expires_at"

  index_config {}
  ttl_config {}
}

# roles/datastore.user can only be granted on the project: Firestore has no
# per-database or per-collection IAM. It is the narrowest role that reads
# and writes documents.
# Claims are read by document id only, so no field needs an index, and two
# must not have one: claimed_at and completed_at grow with time, and
# Firestore caps a collection whose documents hold sequential values in an
# indexed field at 500 writes/s (cloud.google.com/firestore/quotas, "Writes
# and transactions"), below what Relay and TriggerWorker write at scale
# (docs/performance.md, 10,000 webhooks/s). expires_at is exempted by
# claims_ttl above.
resource "google_firestore_field" "claims_unindexed" {
  for_each = local.claims_enabled ? toset(["claimed_at", "completed_at"]) : toset([])

  project    = var.project_id
  database   = google_firestore_database.claims[0].name
  collection = var.idempotency_collection
  field      = each.key

  index_config {}
}

resource "google_project_iam_member" "claims_user" {
  for_each = local.claims_enabled ? toset(keys(local.claims_users)) : toset([])

  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${local.claims_users[each.key]}"
}
