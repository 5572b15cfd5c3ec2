variable "project_id" {
  description = "Project of the function."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "name" {
  description = "Function (and Cloud Run service) name."
  type        = string
}

variable "entry_point" {
  description = "Go entry point the function serves (FUNCTION_TARGET): Store, Relay, Trigger or TriggerWorker. Also names the archive: <build_dir>/<entry_point>.zip and <entry_point>.zip in the source bucket."
  type        = string
}

variable "description" {
  description = "Function description."
  type        = string
}

variable "labels" {
  description = "Labels of the function."
  type        = map(string)
  default     = {}
}

variable "runtime" {
  description = "Cloud Run functions runtime id (go126)."
  type        = string
}

variable "build_service_account" {
  description = "Full resource name (projects/P/serviceAccounts/EMAIL) of the service account the build runs as."
  type        = string
}

variable "source_root" {
  description = "The Go module's root folder (the repository root)."
  type        = string
}

variable "root_files" {
  description = "Files at the module root that this function's archive holds besides go.mod and go.sum: the root package's shared file and the function's own (webhooks.go, store.go)."
  type        = list(string)
}

variable "packages" {
  description = "Folders (relative to source_root) of every package of this module the function compiles, as `go list -deps` says; the archive holds these and nothing else of functions/ and shared/."
  type        = list(string)
}

variable "build_dir" {
  description = "Folder the archive is written to (<build_dir>/<entry_point>.zip), for the upload and the buildpack test."
  type        = string
}

variable "source_bucket" {
  description = "Versioned bucket the archive is uploaded to."
  type        = string
}

variable "service_account_email" {
  description = "Identity the function runs as."
  type        = string
}

variable "environment_variables" {
  description = "Runtime environment of the function."
  type        = map(string)
  default     = {}
}

variable "settings" {
  description = "Runtime settings: memory, cpu, concurrency, min/max instances, timeout."
  type = object({
    memory          = string
    cpu             = string
    concurrency     = number
    min_instances   = number
    max_instances   = number
    timeout_seconds = number
  })
}

variable "public" {
  description = "true: webhook providers call it without Google credentials (allUsers may invoke; ingress from anywhere). false: only var.invoker may invoke, from inside Google Cloud."
  type        = bool
}

variable "invoker" {
  description = "IAM member allowed to invoke a private function (serviceAccount:...); must be null for a public one."
  type        = string
  default     = null

  validation {
    condition     = var.invoker == null || can(regex("^serviceAccount:", var.invoker))
    error_message = "invoker must be a serviceAccount: member (allUsers is what public = true means)."
  }
}

variable "wait_for" {
  description = "Ids of the grants the function needs before it first starts (its secrets, data stores): the function is created after them."
  type        = list(string)
  default     = []
}
