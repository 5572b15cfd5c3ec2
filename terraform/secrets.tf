# Secret Manager: one secret per `sm:` reference of an enabled function's
# sources (derived in source.tf from shared/config/webhooks.yaml), and read
# access bound per secret to the functions that reference it, never on the
# project. Terraform creates the secrets only, never versions or values:
#
#   printf %s "$KEY" | gcloud secrets versions add NAME --data-file=-

locals {
  # The service account of every principal a grant can name.
  function_accounts = merge(
    var.enable_store ? { store = google_service_account.store[0].email } : {},
    var.enable_relay ? { relay = google_service_account.relay[0].email } : {},
    var.enable_trigger ? {
      trigger        = google_service_account.trigger[0].email
      trigger_worker = google_service_account.trigger_worker[0].email
    } : {},
  )
}

# Google-managed encryption, as everywhere in this module (README).
resource "google_secret_manager_secret" "webhook" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.value
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_grants

  project   = each.value.project
  secret_id = each.value.project == var.project_id ? google_secret_manager_secret.webhook[each.value.secret].secret_id : each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${local.function_accounts[each.value.principal]}"
}

locals {
  # The accessor bindings of each principal, which its function waits for.
  secret_grant_ids = {
    for principal in ["store", "relay", "trigger", "trigger_worker"] : principal => [
      for key, member in google_secret_manager_secret_iam_member.accessor : member.id if local.secret_grants[key].principal == principal
    ]
  }
}
