locals {
  function_uris = merge(
    var.enable_store ? { store = module.store[0].uri } : {},
    var.enable_relay ? { relay = module.relay[0].uri } : {},
    var.enable_trigger ? { trigger = module.trigger[0].uri } : {},
  )
}

output "source_urls" {
  description = "Webhook URL of every source of every enabled function, keyed \"function/source\" (\"store/github\"): paste each into the provider's webhook settings."
  value = merge([
    for fn, names in local.sources : { for name in names : "${fn}/${name}" => "${local.function_uris[fn]}/${name}" }
  ]...)
}

output "function_urls" {
  description = "Base URL of each enabled webhook function."
  value       = local.function_uris
}

output "secrets" {
  description = "Secret Manager secrets the sources reference; add each value with `gcloud secrets versions add NAME --data-file=-`."
  value       = sort(tolist(local.secrets))
}

output "bigquery_table" {
  description = "The Store's events table (project.dataset.table), or null."
  value       = var.enable_store ? "${var.project_id}.${google_bigquery_dataset.store[0].dataset_id}.${google_bigquery_table.events[0].table_id}" : null
}

output "bigquery_dedup_view" {
  description = "The deduplicated view of the events table, or null."
  value       = var.enable_store ? "${var.project_id}.${google_bigquery_dataset.store[0].dataset_id}.${google_bigquery_table.events_latest[0].table_id}" : null
}

output "bigquery_dataset" {
  description = "The Store's dataset id, or null."
  value       = var.enable_store ? google_bigquery_dataset.store[0].dataset_id : null
}

output "firestore_database" {
  description = "The Firestore database of the idempotency claims, or null."
  value       = var.enable_relay || var.enable_trigger ? google_firestore_database.claims[0].name : null
}

output "trigger_topics" {
  description = "Pub/Sub topics of the trigger jobs and their dead letters, or null."
  value = var.enable_trigger ? {
    jobs                     = google_pubsub_topic.trigger_jobs[0].name
    dead_letter              = google_pubsub_topic.trigger_dead_letter[0].name
    dead_letter_subscription = google_pubsub_subscription.trigger_dead_letter[0].name
  } : null
}

output "trigger_build_service_account" {
  description = "The service account the build triggers of the rules' cloudbuild actions must run as (set it as each trigger's service account), or null without such an action."
  value       = one(google_service_account.trigger_builds[*].id)
}
