# One Cloud Run function: its archive (only the files its build needs),
# the upload, the function and who may invoke it. The root module
# instantiates it once per entry point (store.tf, relay.tf, trigger.tf).

locals {
  # The archive is chosen by inclusion: go.mod, go.sum, the root files
  # this function needs and the files of the packages it compiles (each
  # folder's own files, not its subfolders, so no testdata), without
  # tests. Nothing else of the source root is uploaded: a stray top-level
  # folder, docs, or a vendor/ folder (which would switch the buildpack
  # to a vendored build) never reaches an archive, and a change to
  # another pattern changes neither this archive nor this function.
  files = sort(distinct(concat(
    ["go.mod", "go.sum"],
    var.code.root_files,
    flatten([for d in var.code.packages : [for f in fileset(var.deployment.source_root, "${d}/*") : f if !endswith(f, "_test.go")]]),
  )))
}

data "archive_file" "source" {
  type        = "zip"
  output_path = "${var.deployment.build_dir}/${var.entry_point}.zip"

  dynamic "source" {
    for_each = local.files
    content {
      filename = source.value
      content  = file("${var.deployment.source_root}/${source.value}")
    }
  }
}

# The build's environment beside the archive, as <entry_point>.build-env.zip
# holding build-env.json, and the Go runtime settings the instance runs
# with as runtime-env.json: the buildpack test in the repository root
# builds the archive with exactly what the function's build_config sends,
# and the benchmarks start the binary with what service_config sets.
data "archive_file" "build_environment" {
  type        = "zip"
  output_path = "${var.deployment.build_dir}/${var.entry_point}.build-env.zip"

  source {
    filename = "build-env.json"
    content  = jsonencode(var.deployment.build_environment)
  }
  source {
    filename = "runtime-env.json"
    content  = jsonencode(var.deployment.runtime_environment)
  }
}

# One object per function, replaced in place when its archive changes:
# the bucket keeps the replaced generations (versioning) for rollback until
# its lifecycle rule deletes them, and the function pins the generation it
# was built from.
resource "google_storage_bucket_object" "source" {
  bucket = var.deployment.source_bucket
  name   = "${var.entry_point}.zip"
  source = data.archive_file.source.output_path
}

resource "terraform_data" "grants" {
  input = var.wait_for
}

resource "google_cloudfunctions2_function" "this" {
  project     = var.deployment.project_id
  name        = var.name
  location    = var.deployment.region
  description = var.description
  labels      = var.deployment.labels

  build_config {
    runtime         = var.deployment.runtime
    entry_point     = var.entry_point
    service_account = var.deployment.build_service_account
    # Read by the Go buildpack's build (the root module's source.tf says
    # how each variable reaches `go build`).
    environment_variables = var.deployment.build_environment
    source {
      storage_source {
        bucket     = var.deployment.source_bucket
        object     = google_storage_bucket_object.source.name
        generation = google_storage_bucket_object.source.generation
      }
    }
  }

  service_config {
    available_memory                 = var.settings.memory
    available_cpu                    = var.settings.cpu
    max_instance_request_concurrency = var.settings.concurrency
    min_instance_count               = var.settings.min_instances
    max_instance_count               = var.settings.max_instances
    timeout_seconds                  = var.settings.timeout_seconds
    ingress_settings                 = var.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = var.service_account_email
    environment_variables            = merge(var.deployment.runtime_environment, var.environment_variables)
  }

  depends_on = [terraform_data.grants]
}

# Public: webhook providers call without Google credentials, and the
# function's own verification (signatures, tokens) is the authentication.
# Private: only the named invoker.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  project  = var.deployment.project_id
  location = google_cloudfunctions2_function.this.location
  name     = google_cloudfunctions2_function.this.service_config[0].service
  role     = "roles/run.invoker"
  member   = var.public ? "allUsers" : var.invoker

  lifecycle {
    precondition {
      condition     = var.public == (var.invoker == null)
      error_message = "A public function takes no invoker; a private one needs one."
    }
  }
}
