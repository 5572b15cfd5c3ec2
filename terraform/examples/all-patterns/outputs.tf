output "source_urls" {
  description = "Webhook URL of every source, keyed \"function/source\" (\"store/github\"): paste each into the provider's webhook settings."
  value       = module.webhooks.source_urls
}

output "function_urls" {
  description = "Base URL of each webhook function."
  value       = module.webhooks.function_urls
}

output "secrets" {
  description = "Secret Manager secrets the sources reference, created without a value: add each with `gcloud secrets versions add NAME --data-file=-`."
  value       = module.webhooks.secrets
}
