# Provider versions are bounded on both sides: a new major version is an
# explicit upgrade, never a surprise in CI.
terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0.0, < 8.0.0"
    }
    # archive_file with one source block per file (modules/function).
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.5.0, < 3.0.0"
    }
  }

  # Partial configuration: the state bucket comes from
  # `terraform init -backend-config=bucket=...` (cloudbuild.yaml passes
  # _STATE_BUCKET), so the repository names no bucket.
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
