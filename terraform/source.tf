# What every enabled function shares: the configuration it embeds, the APIs
# it needs and its uploaded source. Nothing here exists unless at least one
# pattern is enabled.

locals {
  # THE configuration: the same file the functions embed (package config).
  config = yamldecode(file("${path.module}/../shared/config/webhooks.yaml"))

  # One switch per pattern; every pattern resource is keyed on these.
  enabled = {
    store   = var.enable_store
    relay   = var.enable_relay
    trigger = var.enable_trigger
  }
  any_enabled = var.enable_store || var.enable_relay || var.enable_trigger

  # Source names of each enabled function, in file order: one URL path each.
  sources = {
    for fn, on in local.enabled : fn => try([for s in local.config[fn].sources : s.name], []) if on
  }

  # Secret references of each enabled function: every source's verify.secret
  # and verify.handshake_secret, and for trigger every action secret (http actions) of its rules.
  secret_refs = {
    for fn, on in local.enabled : fn => distinct(compact(concat(
      try([for s in local.config[fn].sources : try(s.verify.secret, "")], []),
      try([for s in local.config[fn].sources : try(s.verify.handshake_secret, "")], []),
      try(flatten([for s in local.config[fn].sources : [for r in try(s.rules, []) : [for a in try(r.actions, []) : try(a.secret, "")]]]), []),
    ))) if on
  }

  # Trigger action secrets are read by whichever function runs the action:
  # Trigger (synchronous actions) and TriggerWorker (async jobs).
  action_secret_refs = var.enable_trigger ? distinct(compact(
    try(flatten([for s in local.config.trigger.sources : [for r in try(s.rules, []) : [for a in try(r.actions, []) : try(a.secret, "")]]]), [])
  )) : []

  # sm:NAME and sm:NAME@VERSION name a secret of this project;
  # projects/P/secrets/S/versions/V names secret S of project P; env: and
  # file: references are not Secret Manager secrets and are skipped.
  # The job key (trigger.tf) is read by Trigger, which signs the jobs it
  # queues, and TriggerWorker, which checks them: by nobody else.
  trigger_job_key_ref = "sm:${var.name_prefix}-trigger-job-key"
  secret_principal_refs = merge(local.secret_refs, var.enable_trigger ? {
    trigger        = concat(local.secret_refs.trigger, [local.trigger_job_key_ref])
    trigger_worker = concat(local.action_secret_refs, [local.trigger_job_key_ref])
  } : {})

  secret_grant_list = flatten([
    for principal, refs in local.secret_principal_refs : [
      for ref in refs : {
        principal = principal
        project   = startswith(ref, "sm:") ? var.project_id : regex("^projects/([^/]+)/secrets/", ref)[0]
        secret    = startswith(ref, "sm:") ? split("@", trimprefix(ref, "sm:"))[0] : regex("^projects/[^/]+/secrets/([^/]+)", ref)[0]
      } if startswith(ref, "sm:") || can(regex("^projects/[^/]+/secrets/[^/]+", ref))
    ]
  ])

  # One accessor binding per (function, secret): "store:my-project/github-webhook-secret".
  secret_grants = { for g in local.secret_grant_list : "${g.principal}:${g.project}/${g.secret}" => g }

  # Secrets of this project that terraform creates (no versions, no values).
  secrets = toset([for g in local.secret_grant_list : g.secret if g.project == var.project_id])

  # Trigger rule actions that need grants of their own.
  # (A for filter, not a conditional: actions are objects of different
  # shapes, and a conditional's two tuples must have one type.)
  trigger_actions = flatten([
    for s in try(local.config.trigger.sources, []) : [for r in try(s.rules, []) : try(r.actions, [])] if var.enable_trigger
  ])
  trigger_uses_cloudbuild = length([for a in local.trigger_actions : a if try(a.type, "") == "cloudbuild"]) > 0
  # Topics of pubsub actions, as full names (an action may give a short name).
  trigger_publish_topics = toset([
    for a in local.trigger_actions : startswith(a.topic, "projects/") ? a.topic : "projects/${var.project_id}/topics/${a.topic}"
    if try(a.type, "") == "pubsub" && try(a.topic, "") != ""
  ])

  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    LOG_LEVEL            = var.log_level
  }

  apis = toset(compact(concat(
    local.any_enabled ? [
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudfunctions.googleapis.com",
      "iam.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "storage.googleapis.com",
    ] : [],
    var.enable_store ? ["bigquery.googleapis.com", "bigquerystorage.googleapis.com"] : [],
    var.enable_relay ? ["fcm.googleapis.com"] : [],
    var.enable_relay || var.enable_trigger ? ["firestore.googleapis.com"] : [],
    var.enable_trigger ? ["pubsub.googleapis.com"] : [],
  )))
}

data "google_project" "this" {
  count      = local.any_enabled ? 1 : 0
  project_id = var.project_id
}

resource "google_project_service" "apis" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# The functions' source: one archive per entry point, holding go.mod,
# go.sum, the root package's shared file and the function's own file, and
# the packages it compiles (modules/function). The package lists are what
# `go list -deps` says of each function; the buildpack test in the
# repository root builds each archive and fails when a list is short, and
# fails when an archive holds a file the build does not need.
locals {
  # What every function shares (modules/function).
  function_deployment = {
    project_id            = var.project_id
    region                = var.region
    labels                = var.labels
    runtime               = var.go_runtime
    build_service_account = local.build_service_account
    source_root           = "${path.module}/.."
    build_dir             = "${path.module}/.build"
    source_bucket         = one(google_storage_bucket.source[*].name)
    build_environment     = local.build_environment
    runtime_environment   = local.runtime_environment
  }

  # The environment every function's build runs with (build_config's
  # environment_variables), as Google's Go buildpack honours it
  # (GoogleCloudPlatform/buildpacks):
  #   - GOOGLE_GOLDFLAGS: cmd/go/build/lib/lib.go, goBuildFlags, passes it
  #     to `go build` as -ldflags. "-s -w" drops the symbol table and
  #     DWARF (panics still print their stacks): a smaller binary to pull
  #     and map at every cold start.
  #   - GOFLAGS: read by the go command itself; the buildpack runs
  #     `go build` with the build's own environment (pkg/gcpbuildpack/
  #     exec.go appends os.Environ()) and sets no GOFLAGS of its own.
  #     disable_grpc_modules is the Cloud Storage client's switch
  #     (cloud.google.com/go/storage doc.go, grpc_dp.go) for not linking
  #     gRPC's xDS, Envoy's control plane and the RLS balancer, which
  #     firebase v4 (Relay) and the payload bucket (Store) would pull in
  #     for a gRPC transport they never use. grpcnotrace is gRPC's own
  #     switch (google.golang.org/grpc trace_notrace.go) for not linking
  #     golang.org/x/net/trace, the /debug/requests pages of
  #     grpc.EnableTracing, which is off and never served here; without
  #     it that package's html/template keeps more methods linked.
  #     nethttpomithttp2 is net/http's own switch (net/http omithttp2.go)
  #     for leaving out its bundled copy of HTTP/2: Cloud Run's front end
  #     speaks HTTP/1.1 to the instance, gRPC has its own HTTP/2, and
  #     Google's HTTP clients (FCM's) configure golang.org/x/net/http2 on
  #     their transport themselves (google.golang.org/api transport/http
  #     dial.go, configureHTTP2), so only Trigger's HTTP actions become
  #     HTTP/1.1 (TestTheSDKsOwnTransportSendsOverHTTP2 in
  #     functions/relay/fcmtest checks FCM's, built this way).
  #   - CGO_ENABLED: read by the go command itself, like GOFLAGS; no Go
  #     buildpack sets it, so without it the build image's C compiler
  #     makes a cgo binary dynamically linked against the run image's
  #     libc. Nothing here calls C: "0" links a static binary that maps
  #     no libc or dynamic loader at start (the figures are in
  #     docs/performance.md).
  # The buildpack test in the repository root builds every archive with
  # exactly this environment (the module writes it beside the archive).
  build_environment = {
    GOOGLE_GOLDFLAGS = "-s -w"
    GOFLAGS          = "-tags=disable_grpc_modules,grpcnotrace,nethttpomithttp2"
    CGO_ENABLED      = "0"
  }

  # The Go runtime settings an instance runs with, read by the Go runtime
  # itself, below the function's own environment: Go's defaults, unless
  # the function's own file says otherwise (store.tf). The benchmarks start
  # each binary with exactly this environment (the module writes it beside
  # the archive).
  runtime_environment = {}

  shared_packages = [
    "shared/config",
    "shared/event",
    "shared/logging",
    "shared/ndjson",
    "shared/pattern",
    "shared/pipeline",
    "shared/secrets",
    "shared/strictjson",
    "shared/suggest",
    "shared/verify",
    "shared/verify/handshake",
    "shared/verify/ipallow",
  ]
  function_sources = {
    store = {
      root_files = ["webhooks.go", "store.go"]
      packages   = concat(local.shared_packages, ["functions/store"])
    }
    relay = {
      root_files = ["webhooks.go", "relay.go"]
      packages   = concat(local.shared_packages, ["shared/condition", "shared/idempotency", "shared/render", "functions/relay"])
    }
    trigger = {
      root_files = ["webhooks.go", "trigger.go"]
      packages   = concat(local.shared_packages, ["shared/condition", "shared/idempotency", "shared/render", "functions/trigger"])
    }
  }
}

# Archives hold no secrets; Google-managed encryption.
resource "google_storage_bucket" "source" {
  count = local.any_enabled ? 1 : 0

  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = var.labels

  # Each function's archive has one name (Store.zip); a new archive makes
  # the previous one a noncurrent version, which a rollback can pin
  # (build_config.source.storage_source.generation).
  versioning {
    enabled = true
  }

  # Fires: every deploy of a changed archive adds a newer version of the
  # same name. Keeps the newest var.source_versions_kept replaced archives
  # of each function.
  lifecycle_rule {
    condition {
      num_newer_versions = var.source_versions_kept
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}
