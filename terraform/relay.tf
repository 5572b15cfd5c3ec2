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

  # In the Firebase project the messages go to: the deployment's unless
  # firebase_project names another.
  project = local.firebase_project
  role    = "roles/firebasecloudmessaging.admin"
  member  = "serviceAccount:${google_service_account.relay[0].email}"
}

module "relay" {
  source = "./modules/function"
  count  = var.enable_relay ? 1 : 0

  deployment            = local.function_deployment
  name                  = "${var.name_prefix}-relay"
  entry_point           = "Relay"
  description           = "Relay: verified webhooks to Firebase Cloud Messaging."
  code                  = local.function_sources.relay
  service_account_email = google_service_account.relay[0].email
  settings              = var.relay_function
  public                = true
  environment_variables = merge(local.common_env, {
    FIRESTORE_DATABASE     = google_firestore_database.claims[0].name
    IDEMPOTENCY_COLLECTION = var.idempotency_collection
    FIREBASE_PROJECT       = local.firebase_project
  })
  wait_for = concat(
    local.build_grant_ids,
    [google_project_iam_member.relay_fcm[0].id, google_project_iam_member.claims_user["relay"].id],
    local.secret_grant_ids.relay,
  )
}

locals {
  firebase_project = coalesce(var.firebase_project, var.project_id)
}
