# The identity the Cloud Functions builds run as. New projects no longer
# give the default Cloud Build service account broad roles, and a build
# needs only these: write its logs, push the image to the function's
# Artifact Registry repository (gcf-artifacts, created by the first
# deploy, so granted on the project), and read the source that Cloud
# Functions copies into its own gcf-v2-sources-* bucket (also created by
# the first deploy). Set var.build_service_account to bring your own.

locals {
  build_service_account = var.build_service_account != null ? var.build_service_account : one(google_service_account.build[*].id)
  build_roles = toset([
    "roles/logging.logWriter",       # build logs
    "roles/artifactregistry.writer", # the built image
    "roles/storage.objectViewer",    # the copied source archive
  ])
  # Every function waits for these before its first build.
  build_grant_ids = [for m in google_project_iam_member.build : m.id]
}

resource "google_service_account" "build" {
  count = local.any_enabled && var.build_service_account == null ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-build"
  display_name = "Builds of the webhook functions (Cloud Build)"

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "build" {
  for_each = local.any_enabled && var.build_service_account == null ? local.build_roles : toset([])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.build[0].email}"
}
