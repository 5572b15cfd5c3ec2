# Each pattern switch alone, all on and all off, planned against the real
# google provider's schema with its API mocked (no cloud account needed):
# a disabled pattern plans nothing of its own, every secret a source of an
# enabled function references is readable by that function only, and only
# the webhook functions are public.
#
#   terraform -chdir=terraform test

mock_provider "google" {
  # Values the provider checks the shape of on apply.
  mock_resource "google_service_account" {
    defaults = {
      email = "mock-account@tf-test.iam.gserviceaccount.com"
      name  = "projects/tf-test/serviceAccounts/mock-account@tf-test.iam.gserviceaccount.com"
      id    = "projects/tf-test/serviceAccounts/mock-account@tf-test.iam.gserviceaccount.com"
    }
  }
}

variables {
  project_id              = "tf-test"
  log_metric_wait_seconds = 0
}

run "all_off" {
  command = plan

  variables {
    enable_store   = false
    enable_relay   = false
    enable_trigger = false
  }

  assert {
    condition = (length(google_project_service.apis) + length(google_storage_bucket.source) + length(google_service_account.build)
      + length(module.store) + length(module.relay) + length(module.trigger) + length(module.trigger_worker)
      + length(google_secret_manager_secret.webhook) + length(google_secret_manager_secret_iam_member.accessor)
      + length(google_logging_metric.requests) + length(google_monitoring_alert_policy.failure_rate)
      + length(google_firestore_database.claims) + length(google_bigquery_dataset.store) + length(google_pubsub_topic.trigger_jobs)
      + length(google_storage_bucket.payloads) + length(google_storage_bucket_iam_member.store_payloads) + length(google_project_iam_custom_role.store_payloads)
      + length(google_bigquery_routine.events_between) + length(google_kms_crypto_key_iam_member.payloads)
    + length(google_monitoring_dashboard.pattern) + length(google_logging_metric.refusals) + length(google_firestore_field.claims_unindexed)) == 0
    error_message = "With every pattern off, the module must create nothing."
  }
}

run "store_alone" {
  command = plan

  variables {
    enable_store   = true
    enable_relay   = false
    enable_trigger = false
  }

  assert {
    condition     = length(module.store) == 1 && length(google_bigquery_dataset.store) == 1 && length(google_bigquery_table.events) == 1
    error_message = "Store on: its function, dataset and table."
  }
  assert {
    condition = (length(module.relay) + length(module.trigger) + length(module.trigger_worker) + length(google_service_account.relay)
      + length(google_service_account.trigger) + length(google_firestore_database.claims) + length(google_pubsub_topic.trigger_jobs)
    + length(google_project_iam_member.relay_fcm) + length(google_monitoring_alert_policy.dead_letters)) == 0
    error_message = "Store alone plans nothing of Relay or Trigger."
  }
  assert {
    condition     = toset(keys(google_secret_manager_secret_iam_member.accessor)) == toset(["store:tf-test/github-webhook-secret", "store:tf-test/stripe-webhook-secret", "store:tf-test/standard-webhook-secret"])
    error_message = "Store reads exactly the secrets its sources reference, one binding per secret."
  }
  assert {
    condition     = module.store[0].invoker == "allUsers" && module.store[0].ingress == "ALLOW_ALL"
    error_message = "Store is a webhook target: public."
  }
  assert {
    condition     = !contains(keys(google_project_service.apis), "pubsub.googleapis.com") && !contains(keys(google_project_service.apis), "fcm.googleapis.com")
    error_message = "Store alone enables no Pub/Sub or FCM API."
  }
}

# The payload bucket with its defaults: private, kept, Google-managed
# encryption; Store alone may create and read its objects, through a role
# of exactly those two permissions bound on this bucket. Applied against
# the mock so that the binding's role (the custom role's id) is known.
run "store_payload_bucket" {
  command = apply

  variables {
    enable_store = true
  }

  assert {
    condition     = google_storage_bucket.payloads[0].uniform_bucket_level_access && google_storage_bucket.payloads[0].public_access_prevention == "enforced"
    error_message = "The payload bucket is private: uniform access, public access prevention enforced."
  }
  assert {
    condition     = google_storage_bucket.payloads[0].location == "europe-west1" && google_storage_bucket.payloads[0].name == "tf-test-webhooks-payloads"
    error_message = "The payload bucket is named after the project and prefix, in the region."
  }
  assert {
    condition = (length(google_storage_bucket.payloads[0].lifecycle_rule) + length(google_storage_bucket.payloads[0].retention_policy)
    + length(google_storage_bucket.payloads[0].encryption) + length(google_kms_crypto_key_iam_member.payloads)) == 0
    error_message = "By default payloads are kept, with no retention policy and Google-managed encryption."
  }
  assert {
    condition     = toset(google_project_iam_custom_role.store_payloads[0].permissions) == toset(["storage.objects.create", "storage.objects.get"])
    error_message = "Store's payload role holds object create and get only: no list, no delete, no overwrite."
  }
  assert {
    condition = (google_storage_bucket_iam_member.store_payloads[0].bucket == google_storage_bucket.payloads[0].name
      && google_storage_bucket_iam_member.store_payloads[0].role == google_project_iam_custom_role.store_payloads[0].id
    && google_storage_bucket_iam_member.store_payloads[0].member == "serviceAccount:${google_service_account.store[0].email}")
    error_message = "The payload role is bound to Store's service account on the payload bucket only."
  }
  assert {
    condition     = module.store[0].environment_variables["STORE_PAYLOAD_BUCKET"] == google_storage_bucket.payloads[0].name
    error_message = "Store is told its payload bucket (STORE_PAYLOAD_BUCKET)."
  }
  assert {
    condition = (google_bigquery_routine.events_between[0].routine_id == "events_between"
      && google_bigquery_routine.events_between[0].routine_type == "TABLE_VALUED_FUNCTION"
    && [for a in google_bigquery_routine.events_between[0].arguments : a.name] == ["start_ts", "end_ts"])
    error_message = "The table function events_between(start_ts, end_ts) exists."
  }
  assert {
    condition = (strcontains(google_bigquery_routine.events_between[0].definition_body, "TIMESTAMP_SUB(start_ts, INTERVAL 3 DAY)")
      && strcontains(google_bigquery_routine.events_between[0].definition_body, "received_at < end_ts")
    && strcontains(google_bigquery_routine.events_between[0].definition_body, "`tf-test.webhooks.events`"))
    error_message = "events_between reads the events table from its range's start minus the retry horizon (3 days) to its end."
  }
}

run "store_payload_bucket_options" {
  command = apply

  variables {
    enable_store             = true
    store_retry_horizon_days = 7
    payload_bucket = {
      location          = "EU"
      storage_class     = "NEARLINE"
      delete_after_days = 400
      retention_days    = 30
      kms_key_name      = "projects/tf-test/locations/europe/keyRings/webhooks/cryptoKeys/payloads"
    }
  }

  assert {
    condition = (one(google_storage_bucket.payloads[0].lifecycle_rule[0].condition[*].age) == 400
    && one(google_storage_bucket.payloads[0].lifecycle_rule[0].action[*].type) == "Delete")
    error_message = "delete_after_days deletes objects that old."
  }
  assert {
    condition     = google_storage_bucket.payloads[0].retention_policy[0].retention_period == tostring(30 * 86400)
    error_message = "retention_days is the bucket's retention policy, in seconds."
  }
  assert {
    condition = (google_storage_bucket.payloads[0].encryption[0].default_kms_key_name == "projects/tf-test/locations/europe/keyRings/webhooks/cryptoKeys/payloads"
      && google_kms_crypto_key_iam_member.payloads[0].crypto_key_id == "projects/tf-test/locations/europe/keyRings/webhooks/cryptoKeys/payloads"
    && google_kms_crypto_key_iam_member.payloads[0].role == "roles/cloudkms.cryptoKeyEncrypterDecrypter")
    error_message = "CMEK: the bucket encrypts with the key, which the Cloud Storage service agent may use."
  }
  assert {
    condition     = google_storage_bucket.payloads[0].location == "EU" && google_storage_bucket.payloads[0].storage_class == "NEARLINE"
    error_message = "location and storage_class are the bucket's."
  }
  assert {
    condition     = strcontains(google_bigquery_routine.events_between[0].definition_body, "TIMESTAMP_SUB(start_ts, INTERVAL 7 DAY)")
    error_message = "store_retry_horizon_days is how far before its range events_between reads."
  }
}

run "payload_bucket_refuses_deleting_what_it_retains" {
  command = plan

  variables {
    payload_bucket = { delete_after_days = 7, retention_days = 30 }
  }

  expect_failures = [var.payload_bucket]
}

run "payload_bucket_refuses_a_key_that_is_not_a_key_name" {
  command = plan

  variables {
    payload_bucket = { kms_key_name = "payloads" }
  }

  expect_failures = [var.payload_bucket]
}

run "relay_alone" {
  command = plan

  variables {
    enable_store   = false
    enable_relay   = true
    enable_trigger = false
  }

  assert {
    condition     = length(module.relay) == 1 && length(google_firestore_database.claims) == 1 && length(google_project_iam_member.relay_fcm) == 1
    error_message = "Relay on: its function, the claims database and its FCM grant."
  }
  assert {
    condition     = (length(module.store) + length(module.trigger) + length(module.trigger_worker) + length(google_bigquery_dataset.store) + length(google_pubsub_topic.trigger_jobs)) == 0
    error_message = "Relay alone plans nothing of Store or Trigger."
  }
  assert {
    condition     = toset(keys(google_secret_manager_secret_iam_member.accessor)) == toset(["relay:tf-test/logto-webhook-secret", "relay:tf-test/stripe-webhook-secret"])
    error_message = "Relay reads exactly the secrets its sources reference."
  }
  assert {
    condition     = module.relay[0].invoker == "allUsers"
    error_message = "Relay is a webhook target: public."
  }
}

# A team's existing Firebase app: Relay sends there and is granted there.
run "relay_to_another_firebase_project" {
  command = plan

  variables {
    enable_store     = false
    enable_relay     = true
    enable_trigger   = false
    firebase_project = "team-firebase"
  }

  assert {
    condition     = google_project_iam_member.relay_fcm[0].project == "team-firebase"
    error_message = "Relay's FCM grant is in the Firebase project it sends to."
  }
  assert {
    condition     = module.relay[0].environment_variables["FIREBASE_PROJECT"] == "team-firebase"
    error_message = "Relay is told the Firebase project."
  }
}

# Applied (against the mocked API) so that the push identity's email is
# known to compare with.
run "trigger_alone" {
  command = apply

  variables {
    enable_store   = false
    enable_relay   = false
    enable_trigger = true
  }

  assert {
    condition     = length(module.trigger) == 1 && length(module.trigger_worker) == 1 && length(google_pubsub_subscription.trigger_jobs) == 1
    error_message = "Trigger on: both functions and the jobs subscription."
  }
  assert {
    condition     = (length(module.store) + length(module.relay) + length(google_bigquery_dataset.store) + length(google_project_iam_member.relay_fcm)) == 0
    error_message = "Trigger alone plans nothing of Store or Relay."
  }
  assert {
    condition = toset(keys(google_secret_manager_secret_iam_member.accessor)) == toset([
      "trigger:tf-test/github-webhook-secret", "trigger:tf-test/standard-webhook-secret", "trigger_worker:tf-test/standard-webhook-secret",
      "trigger:tf-test/webhooks-trigger-job-key", "trigger_worker:tf-test/webhooks-trigger-job-key",
    ])
    error_message = "Trigger reads its sources' and actions' secrets and the job key; the worker only its actions' secrets and the job key."
  }
  assert {
    condition     = module.trigger[0].invoker == "allUsers" && module.trigger[0].ingress == "ALLOW_ALL"
    error_message = "Trigger is a webhook target: public."
  }
  assert {
    condition     = module.trigger_worker[0].invoker == "serviceAccount:${google_service_account.trigger_push[0].email}" && module.trigger_worker[0].ingress == "ALLOW_INTERNAL_ONLY"
    error_message = "TriggerWorker is private: only the push identity, only internal traffic."
  }
  assert {
    condition = (contains(keys(google_secret_manager_secret.webhook), "webhooks-trigger-job-key")
    && length([for k, g in local.secret_grants : k if g.secret == "webhooks-trigger-job-key"]) == 2)
    error_message = "The job key is a secret of its own (no value in terraform), readable by Trigger and TriggerWorker only."
  }
  assert {
    condition = (local.trigger_env.TRIGGER_JOB_KEY == "sm:webhooks-trigger-job-key"
    && local.trigger_worker_env.TRIGGER_JOB_KEY == "sm:webhooks-trigger-job-key")
    error_message = "Trigger and TriggerWorker name the job key secret in TRIGGER_JOB_KEY."
  }
  assert {
    condition = (local.trigger_worker_env.TRIGGER_PUSH_AUDIENCE == google_pubsub_subscription.trigger_jobs[0].push_config[0].oidc_token[0].audience
      && local.trigger_worker_env.TRIGGER_PUSH_EMAIL == google_pubsub_subscription.trigger_jobs[0].push_config[0].oidc_token[0].service_account_email
    && !contains(keys(local.trigger_env), "TRIGGER_PUSH_AUDIENCE"))
    error_message = "TriggerWorker checks the push token the subscription is configured to send (audience and push identity)."
  }
  assert {
    condition = (toset(keys(google_project_iam_member.trigger_run_builds)) == toset(["trigger", "trigger_worker"])
    && length(google_pubsub_topic_iam_member.action_publisher) == 0)
    error_message = "The cloudbuild action of webhooks.yaml gets Trigger and TriggerWorker the run-builds role; with no pubsub action, no topic grant."
  }
}

run "all_on" {
  command = plan

  variables {
    enable_store   = true
    enable_relay   = true
    enable_trigger = true
  }

  assert {
    condition     = length(module.store) + length(module.relay) + length(module.trigger) + length(module.trigger_worker) == 4
    error_message = "All patterns on: four functions."
  }
  assert {
    condition     = length([for m in [module.store[0], module.relay[0], module.trigger[0], module.trigger_worker[0]] : m if m.invoker == "allUsers"]) == 3
    error_message = "allUsers on the three webhook functions only."
  }
  assert {
    condition     = length(google_secret_manager_secret.webhook) == 5 && length(google_secret_manager_secret_iam_member.accessor) == 10
    error_message = "One secret per distinct reference and the job key, one binding per (function, secret)."
  }
  assert {
    condition     = length(google_service_account.build) == 1 && toset(keys(google_project_iam_member.build)) == toset(["roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectViewer"])
    error_message = "The builds run as their own service account with only the roles a build needs."
  }
  assert {
    condition     = google_storage_bucket.source[0].versioning[0].enabled && one(google_storage_bucket.source[0].lifecycle_rule[0].condition[*].num_newer_versions) == 5
    error_message = "The source bucket keeps the replaced archives of each function for rollback, up to source_versions_kept."
  }
}

run "own_build_service_account" {
  command = plan

  variables {
    enable_store          = true
    build_service_account = "projects/tf-test/serviceAccounts/builder@tf-test.iam.gserviceaccount.com"
  }

  assert {
    condition     = length(google_service_account.build) == 0 && length(google_project_iam_member.build) == 0
    error_message = "A given build service account replaces the created one."
  }
}

# One dashboard per enabled pattern, each plotting only its own services,
# with every panel the operator needs; Trigger's adds its dead letters.
run "dashboard_per_pattern" {
  command = plan

  variables {
    enable_store   = true
    enable_relay   = false
    enable_trigger = true
  }

  assert {
    condition     = toset(keys(google_monitoring_dashboard.pattern)) == toset(["store", "trigger"]) && length(google_logging_metric.refusals) == 1
    error_message = "A dashboard for each enabled pattern and none for a disabled one, with the refusals metric it plots."
  }
  assert {
    condition = alltrue([for k, d in google_monitoring_dashboard.pattern : alltrue([
      for t in ["Requests/s by source and status", "5xx share by source (providers retry these)", "Latency p50, p95, p99 (ms, the function's own)",
        "Refusals/s by refused_by", "Duplicates/s by source (redeliveries answered from the claim)", "Instances by service and state",
      "Billable instance time (instance-seconds per second)"] : contains([for tile in jsondecode(d.dashboard_json).mosaicLayout.tiles : tile.widget.title], t)
    ])])
    error_message = "Every dashboard shows requests, 5xx share, latency percentiles, refusals, duplicates, instances and billable time."
  }
  assert {
    condition = (
      [for tile in jsondecode(google_monitoring_dashboard.pattern["trigger"].dashboard_json).mosaicLayout.tiles : tile.widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.filter if tile.widget.title == "Jobs dead-lettered, and waiting for Replay"][0]
      == "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"webhooks-trigger-jobs\""
      && length([for tile in jsondecode(google_monitoring_dashboard.pattern["store"].dashboard_json).mosaicLayout.tiles : tile if startswith(tile.widget.title, "Jobs dead-lettered")]) == 0
    )
    error_message = "Trigger's dashboard counts the jobs subscription's dead letters; Store's has no such panel."
  }
  assert {
    condition = alltrue([for tile in jsondecode(google_monitoring_dashboard.pattern["store"].dashboard_json).mosaicLayout.tiles :
      alltrue([for ds in tile.widget.xyChart.dataSets : !strcontains(jsonencode(ds), "webhooks-trigger")])
    ])
    error_message = "Store's dashboard plots no Trigger service."
  }
  assert {
    condition = strcontains(jsonencode([for tile in jsondecode(google_monitoring_dashboard.pattern["trigger"].dashboard_json).mosaicLayout.tiles : tile if tile.widget.title == "Instances by service and state"]),
    "resource.labels.service_name=\\\"webhooks-trigger-worker\\\"")
    error_message = "Trigger's instance panel includes its worker, which runs the async jobs."
  }
}

run "dashboard_relay_alone" {
  command = plan

  variables {
    enable_store   = false
    enable_relay   = true
    enable_trigger = false
  }

  assert {
    condition     = keys(google_monitoring_dashboard.pattern) == ["relay"] && jsondecode(google_monitoring_dashboard.pattern["relay"].dashboard_json).displayName == "webhooks: Relay"
    error_message = "Relay alone: its dashboard only."
  }
}

run "dashboard_all_on" {
  command = plan

  variables {
    enable_store   = true
    enable_relay   = true
    enable_trigger = true
  }

  assert {
    condition     = toset(keys(google_monitoring_dashboard.pattern)) == toset(["store", "relay", "trigger"]) && length(jsondecode(google_monitoring_dashboard.pattern["trigger"].dashboard_json).mosaicLayout.tiles) == 8
    error_message = "All on: three dashboards; Trigger's with its dead-letter panel (8 tiles)."
  }
}

# The worker's timeout is its subscription's ack deadline: Pub/Sub allows
# at most 600 seconds. (Every function's settings are checked by the
# function module: tests/function.tftest.hcl.)
run "worker_timeout_is_an_ack_deadline" {
  command = plan

  variables {
    enable_trigger          = true
    trigger_worker_function = { timeout_seconds = 900 }
  }

  expect_failures = [var.trigger_worker_function]
}
