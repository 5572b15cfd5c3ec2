variable "project_id" {
  description = "Google Cloud project that hosts the functions and their data stores."
  type        = string
}

variable "region" {
  description = "Region of the functions, the source bucket, the BigQuery dataset and the Firestore database."
  type        = string
  default     = "europe-west1"
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions are <prefix>-store, <prefix>-relay, ...)."
  type        = string
  default     = "webhooks"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}$", var.name_prefix))
    error_message = "name_prefix must be 1-15 lower-case letters, digits or dashes, starting with a letter (service account ids are at most 30 characters)."
  }
}

variable "enable_store" {
  description = "Deploy the Store pattern (verified webhook to a BigQuery row). When false, nothing of it is created."
  type        = bool
  default     = true
}

variable "enable_relay" {
  description = "Deploy the Relay pattern (webhook to Firebase Cloud Messaging). When false, nothing of it is created."
  type        = bool
  default     = false
}

variable "enable_trigger" {
  description = "Deploy the Trigger pattern (webhook to actions, with the TriggerWorker for async jobs). When false, nothing of it is created."
  type        = bool
  default     = false
}

variable "go_runtime" {
  description = "Cloud Run functions runtime id. go126 matches the go directive in go.mod (go 1.26); an older runtime cannot build the module."
  type        = string
  default     = "go126"

  validation {
    condition     = can(regex("^go1[0-9]{2}$", var.go_runtime))
    error_message = "go_runtime must be a Go runtime id such as go126."
  }
}

variable "build_service_account" {
  description = "Full resource name (projects/P/serviceAccounts/EMAIL) of the service account Cloud Build builds the functions as; null creates <prefix>-build with only the roles a build needs (build.tf)."
  type        = string
  default     = null
}

variable "log_level" {
  description = "LOG_LEVEL of every function: debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be one of debug, info, warn, error."
  }
}

# One object per function. The defaults let one instance serve about 80
# webhooks at once: the Store's group commit batches concurrent requests of
# one instance, so concurrency 1 would defeat it. The settings are checked
# once, by the function module's settings variable (modules/function):
# Cloud Run refuses concurrency above 1 with less than one CPU, and the
# module says so first.
variable "store_function" {
  description = "Runtime settings of the Store function."
  type = object({
    memory          = optional(string, "512Mi")
    cpu             = optional(string, "1")
    concurrency     = optional(number, 80)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 20)
    timeout_seconds = optional(number, 60)
  })
  default = {}
}

variable "relay_function" {
  description = "Runtime settings of the Relay function."
  type = object({
    memory          = optional(string, "512Mi")
    cpu             = optional(string, "1")
    concurrency     = optional(number, 80)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 20)
    timeout_seconds = optional(number, 60)
  })
  default = {}
}

variable "trigger_function" {
  description = "Runtime settings of the Trigger function."
  type = object({
    memory          = optional(string, "512Mi")
    cpu             = optional(string, "1")
    concurrency     = optional(number, 80)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 20)
    timeout_seconds = optional(number, 60)
  })
  default = {}
}

variable "trigger_worker_function" {
  description = "Runtime settings of the TriggerWorker function, which runs async jobs pushed by Pub/Sub. Its timeout is also the subscription's ack deadline, so at most 600 seconds."
  type = object({
    memory          = optional(string, "512Mi")
    cpu             = optional(string, "1")
    concurrency     = optional(number, 20)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 10)
    timeout_seconds = optional(number, 120)
  })
  default = {}

  validation {
    condition     = var.trigger_worker_function.timeout_seconds >= 10 && var.trigger_worker_function.timeout_seconds <= 600
    error_message = "trigger_worker_function: timeout_seconds must be 10-600 (the Pub/Sub ack deadline range)."
  }
}

variable "bigquery_dataset" {
  description = "BigQuery dataset of the Store (BIGQUERY_DATASET)."
  type        = string
  default     = "webhooks"
}

variable "bigquery_table" {
  description = "BigQuery table of the Store's events (BIGQUERY_TABLE); the dedup view is <table>_latest."
  type        = string
  default     = "events"
}

variable "bigquery_location" {
  description = "Location of the BigQuery dataset; null uses the region."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the events table, the Firestore database and the source bucket's objects from terraform destroy."
  type        = bool
  default     = true
}

variable "firestore_database" {
  description = "Firestore database (native mode) of the idempotency claims (FIRESTORE_DATABASE). A named database leaves an existing (default) database alone."
  type        = string
  default     = "webhooks"
}

variable "idempotency_collection" {
  description = "Collection of the idempotency claims (IDEMPOTENCY_COLLECTION); its expires_at field gets a TTL policy."
  type        = string
  default     = "webhook-claims"
}

variable "trigger_max_delivery_attempts" {
  description = "Deliveries of one trigger job before it is moved to the dead-letter topic (Pub/Sub allows 5-100)."
  type        = number
  default     = 10

  validation {
    condition     = var.trigger_max_delivery_attempts >= 5 && var.trigger_max_delivery_attempts <= 100
    error_message = "trigger_max_delivery_attempts must be 5-100."
  }
}

variable "trigger_build_roles" {
  description = "Project roles of the identity the rules' build triggers run as (output trigger_build_service_account): what those builds need, and nothing else. Builds run as a user-managed service account write their logs with logging.logWriter."
  type        = list(string)
  default     = ["roles/logging.logWriter"]

  # A role that lets the build identity act as another service account, or
  # change IAM, would hand every build it runs (and so Trigger) the project.
  validation {
    condition = alltrue([
      for r in var.trigger_build_roles : can(regex("^(roles|projects/[^/]+/roles|organizations/[^/]+/roles)/[A-Za-z0-9_.]+$", r))
      && !contains(["roles/owner", "roles/editor"], r) && !startswith(r, "roles/iam.") && !startswith(r, "roles/resourcemanager.")
    ])
    error_message = "trigger_build_roles: role names only (roles/X or a custom role's id), and none of roles/owner, roles/editor, roles/iam.* or roles/resourcemanager.*: with those the build identity could act as, or grant itself, any other identity."
  }
}

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) the alert policies notify."
  type        = list(string)
  default     = []
}

variable "alert_5xx_ratio" {
  description = "Alert when more than this fraction of a function's webhook requests answer 5xx over 5 minutes."
  type        = number
  default     = 0.05
}

variable "alert_401_per_minute" {
  description = "Alert when a source answers more than this many 401s (failed verification) per minute for 5 minutes."
  type        = number
  default     = 10
}

variable "payload_bucket" {
  description = <<-EOT
    The Store's bucket of payloads above 8 MiB, which a BigQuery row cannot carry (the row holds their payload_uri).
    location: null is var.region. delete_after_days: objects are deleted that many days after they were written (null: kept);
    rows outlive their payload then. retention_days: a retention policy, no object can be deleted or replaced sooner
    (null: none). kms_key_name: a Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) for CMEK, null for
    Google-managed encryption; the Cloud Storage service agent is granted its use.
  EOT
  type = object({
    location          = optional(string)
    storage_class     = optional(string, "STANDARD")
    delete_after_days = optional(number)
    retention_days    = optional(number)
    kms_key_name      = optional(string)
  })
  default = {}

  validation {
    condition     = contains(["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"], var.payload_bucket.storage_class)
    error_message = "payload_bucket.storage_class must be STANDARD, NEARLINE, COLDLINE or ARCHIVE."
  }
  validation {
    condition     = try(var.payload_bucket.delete_after_days >= 1, true) && try(var.payload_bucket.retention_days >= 1, true)
    error_message = "payload_bucket: delete_after_days and retention_days must be at least 1 day (or null)."
  }
  validation {
    condition     = try(var.payload_bucket.delete_after_days >= var.payload_bucket.retention_days, true)
    error_message = "payload_bucket: delete_after_days below retention_days would ask to delete objects the retention policy keeps."
  }
  validation {
    condition     = var.payload_bucket.kms_key_name == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.payload_bucket.kms_key_name))
    error_message = "payload_bucket.kms_key_name must be a key's full name: projects/P/locations/L/keyRings/R/cryptoKeys/K."
  }
}

variable "store_retry_horizon_days" {
  description = "How long after an event's first delivery its retries may come (Stripe retries for 3 days). events_between reads this many days before its range to find first deliveries; a retry later than this shows up as its own event."
  type        = number
  default     = 3

  validation {
    condition     = var.store_retry_horizon_days >= 0 && var.store_retry_horizon_days <= 30 && floor(var.store_retry_horizon_days) == var.store_retry_horizon_days
    error_message = "store_retry_horizon_days must be a whole number of days, 0 to 30."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}

variable "source_versions_kept" {
  description = "Replaced source archives kept per function in the source bucket, for rollback (a rollback pins one by generation)."
  type        = number
  default     = 5

  validation {
    condition     = var.source_versions_kept >= 1
    error_message = "source_versions_kept must be at least 1."
  }
}

variable "log_metric_wait_seconds" {
  description = "Seconds the alert policies wait, once, after their log-based metrics are created: Cloud Monitoring can take up to 10 minutes to know a new metric (monitoring.tf)."
  type        = number
  default     = 600

  validation {
    condition     = var.log_metric_wait_seconds >= 0 && var.log_metric_wait_seconds <= 1800 && floor(var.log_metric_wait_seconds) == var.log_metric_wait_seconds
    error_message = "log_metric_wait_seconds must be a whole number of seconds, 0-1800."
  }
}

variable "firebase_project" {
  description = "Firebase project whose FCM topics and tokens Relay sends to, when it is not project_id (a team's existing Firebase app). Relay's service account is granted roles/firebasecloudmessaging.admin there, so the deployer needs resourcemanager.projectIamAdmin in that project too."
  type        = string
  default     = null
}
