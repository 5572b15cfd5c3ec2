# Every pattern of the module (Store, Relay, Trigger with its
# TriggerWorker) in one project, with the alerts sent to the given
# notification channels. The module is this repository's terraform/
# folder; it uploads the functions' code from the repository it sits in.

terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0.0, < 8.0.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.5.0, < 3.0.0"
    }
  }
}

module "webhooks" {
  source = "../.."

  project_id            = var.project_id
  region                = var.region
  enable_store          = true
  enable_relay          = true
  enable_trigger        = true
  notification_channels = var.notification_channels
}
