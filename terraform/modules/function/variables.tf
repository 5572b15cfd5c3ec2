variable "deployment" {
  description = "What every function of the deployment shares: project, region, labels, runtime (go126), the build's service account (projects/P/serviceAccounts/EMAIL), the Go module's root folder, the folder archives are written to (<build_dir>/<entry_point>.zip, read by the buildpack test), the versioned bucket they are uploaded to, the environment the build runs with (GOOGLE_GOLDFLAGS, GOFLAGS, ..., as the Go buildpack reads them) and the Go runtime settings the instance runs with (GOMEMLIMIT, GOGC, ...), below the function's own environment."
  type = object({
    project_id            = string
    region                = string
    labels                = map(string)
    runtime               = string
    build_service_account = string
    source_root           = string
    build_dir             = string
    source_bucket         = string
    build_environment     = map(string)
    runtime_environment   = map(string)
  })
}

variable "code" {
  description = "What the function compiles: root_files, the files at the module root its archive holds besides go.mod and go.sum (webhooks.go and its own, store.go); packages, the folders of every package of this module it compiles, as `go list -deps` says. The archive holds these (each folder's files without its tests and subfolders) and nothing else."
  type = object({
    root_files = list(string)
    packages   = list(string)
  })
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
  description = "Runtime settings: memory, cpu, concurrency, min/max instances, timeout (seconds). Checked here, once for every function: Cloud Run refuses concurrency above 1 with less than one CPU, and concurrency above 1000."
  type = object({
    memory          = string
    cpu             = string
    concurrency     = number
    min_instances   = number
    max_instances   = number
    timeout_seconds = number
  })

  validation {
    condition     = var.settings.concurrency <= 1 || tonumber(var.settings.cpu) >= 1
    error_message = "settings: concurrency above 1 needs cpu of at least 1."
  }
  validation {
    condition     = var.settings.concurrency >= 1 && var.settings.concurrency <= 1000 && var.settings.min_instances <= var.settings.max_instances
    error_message = "settings: concurrency must be 1-1000 and min_instances at most max_instances."
  }
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
