# Relay: a verified webhook becomes Firebase Cloud Messaging messages, with
# a Firestore claim per event so a retried webhook sends nothing twice.
# Everything here is keyed on var.enable_relay (Firestore: firestore.tf).

resource "google_service_account" "relay" {
  count = var.enable_relay ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-relay"
  display_name = "Relay function (webhooks to Firebase Cloud Messaging)"

  depends_on = [google_project_service.apis]
}

# Sending an FCM message needs cloudmessaging.messages.create, which only
# project-level roles grant; roles/firebasecloudmessaging.admin ("Firebase
# Cloud Messaging API Admin") is the narrowest predefined role with it
# (its viewer role cannot send).
resource "google_project_iam_member" "relay_fcm" {
  count = var.enable_relay ? 1 : 0

  project = var.project_id
  role    = "roles/firebasecloudmessaging.admin"
  member  = "serviceAccount:${google_service_account.relay[0].email}"
}

resource "google_cloudfunctions2_function" "relay" {
  count = var.enable_relay ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}-relay"
  location    = var.region
  description = "Relay: verified webhooks to Firebase Cloud Messaging."
  labels      = var.labels

  build_config {
    runtime         = var.go_runtime
    entry_point     = "Relay"
    service_account = var.build_service_account
    source {
      storage_source {
        bucket = google_storage_bucket.source[0].name
        object = google_storage_bucket_object.source[0].name
      }
    }
  }

  service_config {
    available_memory                 = var.relay_function.memory
    available_cpu                    = var.relay_function.cpu
    max_instance_request_concurrency = var.relay_function.concurrency
    min_instance_count               = var.relay_function.min_instances
    max_instance_count               = var.relay_function.max_instances
    timeout_seconds                  = var.relay_function.timeout_seconds
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.relay[0].email
    environment_variables = merge(local.common_env, {
      FIRESTORE_DATABASE     = google_firestore_database.claims[0].name
      IDEMPOTENCY_COLLECTION = var.idempotency_collection
    })
  }

  depends_on = [
    google_project_iam_member.relay_fcm,
    google_project_iam_member.claims_user,
    google_secret_manager_secret_iam_member.accessor,
  ]
}

resource "google_cloud_run_v2_service_iam_member" "relay_public" {
  count = var.enable_relay ? 1 : 0

  project  = var.project_id
  location = google_cloudfunctions2_function.relay[0].location
  name     = google_cloudfunctions2_function.relay[0].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
