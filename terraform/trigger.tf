# Trigger: a verified webhook runs its rules' actions (HTTP calls, Pub/Sub
# publishes, Cloud Build triggers). Async actions are jobs on a Pub/Sub
# topic, pushed to the private TriggerWorker; a job that fails
# var.trigger_max_delivery_attempts times lands on the dead-letter topic.
# Everything here is keyed on var.enable_trigger (Firestore: firestore.tf).
#
# The worker is fed by an explicit push subscription instead of a
# function event_trigger: the subscription an event_trigger creates is
# managed by Eventarc and cannot carry a dead-letter policy here. The
# worker is an HTTP function reading Pub/Sub's push body itself: a
# CloudEvent function never sees the push request's OIDC token.

locals {
  # Both run actions: Trigger synchronously, TriggerWorker for async jobs.
  trigger_action_runners = var.enable_trigger ? {
    trigger        = google_service_account.trigger[0].email
    trigger_worker = google_service_account.trigger_worker[0].email
  } : {}
  trigger_publish_grants = {
    for pair in setproduct(keys(local.trigger_action_runners), local.trigger_publish_topics) : "${pair[0]}:${pair[1]}" => {
      runner = pair[0]
      topic  = pair[1]
    }
  }
  trigger_env = var.enable_trigger ? merge(local.common_env, {
    FIRESTORE_DATABASE        = google_firestore_database.claims[0].name
    IDEMPOTENCY_COLLECTION    = var.idempotency_collection
    TRIGGER_JOBS_TOPIC        = google_pubsub_topic.trigger_jobs[0].name
    TRIGGER_DEAD_LETTER_TOPIC = google_pubsub_topic.trigger_dead_letter[0].name
    # The key Trigger signs jobs with and TriggerWorker checks them with:
    # a secret of its own (secrets.tf, readable by these two only), without
    # a value until the operator adds one, as for every secret here:
    #   head -c 32 /dev/urandom | base64 | gcloud secrets versions add PREFIX-trigger-job-key --data-file=-
    # Until then Trigger answers async events 503 (the provider retries).
    TRIGGER_JOB_KEY = local.trigger_job_key_ref
  }) : {}
  # What the push subscription's OIDC token says, checked by TriggerWorker
  # in code. The audience is the worker's deterministic Cloud Run URL
  # (https://SERVICE-PROJECT_NUMBER.REGION.run.app), one of the default
  # run.app URLs that Cloud Run's invoker check accepts as audience, known
  # before the function exists: its service_config.uri would make the
  # function's environment depend on itself.
  trigger_worker_audience = var.enable_trigger ? "https://${var.name_prefix}-trigger-worker-${data.google_project.this[0].number}.${var.region}.run.app" : null
  trigger_worker_env = var.enable_trigger ? merge(local.trigger_env, {
    TRIGGER_PUSH_AUDIENCE = local.trigger_worker_audience
    TRIGGER_PUSH_EMAIL    = google_service_account.trigger_push[0].email
  }) : {}
  pubsub_service_agent = var.enable_trigger ? "serviceAccount:service-${data.google_project.this[0].number}@gcp-sa-pubsub.iam.gserviceaccount.com" : null
}

resource "google_service_account" "trigger" {
  count = var.enable_trigger ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-trigger"
  display_name = "Trigger function (webhooks to actions)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "trigger_worker" {
  count = var.enable_trigger ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-trigger-worker"
  display_name = "TriggerWorker function (async trigger jobs)"

  depends_on = [google_project_service.apis]
}

# The identity Pub/Sub signs its push requests with (OIDC); it may only
# invoke the worker.
resource "google_service_account" "trigger_push" {
  count = var.enable_trigger ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-trigger-push"
  display_name = "Pub/Sub push identity of the TriggerWorker"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "trigger_jobs" {
  count = var.enable_trigger ? 1 : 0

  project                    = var.project_id
  name                       = "${var.name_prefix}-trigger-jobs"
  labels                     = var.labels
  message_retention_duration = "86400s"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "trigger_dead_letter" {
  count = var.enable_trigger ? 1 : 0

  project                    = var.project_id
  name                       = "${var.name_prefix}-trigger-dead-letter"
  labels                     = var.labels
  message_retention_duration = "604800s"

  depends_on = [google_project_service.apis]
}

# Messages published to a topic without subscriptions are lost: this pull
# subscription keeps dead-lettered jobs for inspection and replay.
resource "google_pubsub_subscription" "trigger_dead_letter" {
  count = var.enable_trigger ? 1 : 0

  project                    = var.project_id
  name                       = "${var.name_prefix}-trigger-dead-letter"
  topic                      = google_pubsub_topic.trigger_dead_letter[0].id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "trigger_jobs" {
  count = var.enable_trigger ? 1 : 0

  project              = var.project_id
  name                 = "${var.name_prefix}-trigger-jobs"
  topic                = google_pubsub_topic.trigger_jobs[0].id
  ack_deadline_seconds = var.trigger_worker_function.timeout_seconds
  labels               = var.labels

  # Rules with serialize_by publish with an ordering key: jobs of one key
  # (one repository) are delivered one at a time, in publish order.
  enable_message_ordering = true

  push_config {
    push_endpoint = "${module.trigger_worker[0].uri}/${google_pubsub_topic.trigger_jobs[0].id}"
    oidc_token {
      service_account_email = google_service_account.trigger_push[0].email
      audience              = local.trigger_worker_audience
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.trigger_dead_letter[0].id
    max_delivery_attempts = var.trigger_max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    module.trigger_worker,
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_service_account_iam_member.push_token_creator,
  ]
}

# Trigger enqueues jobs: publisher on the jobs topic only.
resource "google_pubsub_topic_iam_member" "trigger_jobs_publisher" {
  count = var.enable_trigger ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.trigger_jobs[0].id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.trigger[0].email}"
}

# The worker may move a job that can never succeed to the dead-letter topic
# at once (TRIGGER_DEAD_LETTER_TOPIC) instead of waiting out the retries.
resource "google_pubsub_topic_iam_member" "worker_dead_letter_publisher" {
  count = var.enable_trigger ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.trigger_dead_letter[0].id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.trigger_worker[0].email}"
}

# Dead-lettering is done by the Pub/Sub service agent: it publishes to the
# dead-letter topic and acknowledges the forwarded message on the source
# subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  count = var.enable_trigger ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.trigger_dead_letter[0].id
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  count = var.enable_trigger ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.trigger_jobs[0].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# The Pub/Sub service agent mints the push OIDC tokens of the push identity:
# token creator on that one service account, not on the project.
resource "google_service_account_iam_member" "push_token_creator" {
  count = var.enable_trigger ? 1 : 0

  service_account_id = google_service_account.trigger_push[0].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Pubsub actions of the rules: publisher on each named topic only.
resource "google_pubsub_topic_iam_member" "action_publisher" {
  for_each = var.enable_trigger ? local.trigger_publish_grants : {}

  topic  = each.value.topic
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${local.trigger_action_runners[each.value.runner]}"
}

# Cloudbuild actions, only when a rule has one. RunBuildTrigger, the one
# Cloud Build call Trigger makes (functions/trigger/cloudbuild.go), needs
# cloudbuild.builds.create on the trigger: a custom role of that one
# permission, instead of roles/cloudbuild.builds.editor (which also reads,
# edits and deletes every build and trigger). It cannot be narrowed to the
# rules' triggers: build triggers have no IAM policy of their own (the
# provider has no google_cloudbuild_trigger_iam_* resource), and Cloud
# Build is not among the services that give IAM conditions the resource's
# name, so a condition on resource.name would not narrow the binding. What
# remains is bounded by actAs: cloudbuild.builds.create still starts any
# trigger or build of the project, but a build runs as a service account,
# and the function identities may act as the build identity only.
resource "google_project_iam_custom_role" "trigger_run_builds" {
  count = var.enable_trigger && local.trigger_uses_cloudbuild ? 1 : 0

  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_trigger_run_builds"
  title       = "Trigger: run build triggers"
  description = "Starts Cloud Build triggers (RunBuildTrigger) for the webhooks' Trigger functions."
  permissions = ["cloudbuild.builds.create"]
}

resource "google_project_iam_member" "trigger_run_builds" {
  for_each = var.enable_trigger && local.trigger_uses_cloudbuild ? local.trigger_action_runners : {}

  project = var.project_id
  role    = google_project_iam_custom_role.trigger_run_builds[0].id
  member  = "serviceAccount:${each.value}"
}

# The identity the rules' triggers run as (each trigger's service account,
# set by the operator: output trigger_build_service_account), with only
# var.trigger_build_roles.
resource "google_service_account" "trigger_builds" {
  count = var.enable_trigger && local.trigger_uses_cloudbuild ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-trigger-builds"
  display_name = "Builds that Trigger's cloudbuild actions start"

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "trigger_builds" {
  for_each = var.enable_trigger && local.trigger_uses_cloudbuild ? toset(var.trigger_build_roles) : toset([])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.trigger_builds[0].email}"
}

# Trigger and TriggerWorker may act as the build identity, granted on that
# one service account: never on the project, which would let them run
# builds as any service account there, the deployer's included.
resource "google_service_account_iam_member" "trigger_builds_user" {
  for_each = var.enable_trigger && local.trigger_uses_cloudbuild ? local.trigger_action_runners : {}

  service_account_id = google_service_account.trigger_builds[0].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${each.value}"
}

module "trigger" {
  source = "./modules/function"
  count  = var.enable_trigger ? 1 : 0

  deployment            = local.function_deployment
  name                  = "${var.name_prefix}-trigger"
  entry_point           = "Trigger"
  description           = "Trigger: verified webhooks to actions."
  code                  = local.function_sources.trigger
  service_account_email = google_service_account.trigger[0].email
  settings              = var.trigger_function
  public                = true
  environment_variables = local.trigger_env
  wait_for = concat(
    local.build_grant_ids,
    [google_pubsub_topic_iam_member.trigger_jobs_publisher[0].id, google_project_iam_member.claims_user["trigger"].id],
    local.secret_grant_ids.trigger,
  )
}

# Private: only the push identity may invoke it, and only from inside
# Google Cloud (Pub/Sub push counts as internal traffic of the project).
# An HTTP function, so that it can check the push token itself
# (TRIGGER_PUSH_AUDIENCE, TRIGGER_PUSH_EMAIL) as well as Cloud Run does.
module "trigger_worker" {
  source = "./modules/function"
  count  = var.enable_trigger ? 1 : 0

  deployment            = local.function_deployment
  name                  = "${var.name_prefix}-trigger-worker"
  entry_point           = "TriggerWorker"
  description           = "TriggerWorker: runs async trigger jobs pushed by Pub/Sub."
  code                  = local.function_sources.trigger
  service_account_email = google_service_account.trigger_worker[0].email
  settings              = var.trigger_worker_function
  public                = false
  invoker               = "serviceAccount:${google_service_account.trigger_push[0].email}"
  environment_variables = local.trigger_worker_env
  wait_for = concat(
    local.build_grant_ids,
    [google_pubsub_topic_iam_member.worker_dead_letter_publisher[0].id, google_project_iam_member.claims_user["trigger_worker"].id],
    local.secret_grant_ids.trigger_worker,
  )
}
