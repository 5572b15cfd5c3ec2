output "uri" {
  description = "The function's URL."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "service" {
  description = "The Cloud Run service that serves the function."
  value       = google_cloudfunctions2_function.this.service_config[0].service
}

output "archive_path" {
  description = "The archive built for this function (<build_dir>/<entry_point>.zip)."
  value       = data.archive_file.source.output_path
}

output "files" {
  description = "The files the archive holds, relative to the source root."
  value       = local.files
}

output "archive_md5" {
  description = "MD5 of the archive: it changes only when a file this function compiles changes."
  value       = data.archive_file.source.output_md5
}

output "invoker" {
  description = "Who may invoke the function: allUsers for a public one."
  value       = google_cloud_run_v2_service_iam_member.invoker.member
}

output "ingress" {
  description = "The function's ingress setting."
  value       = google_cloudfunctions2_function.this.service_config[0].ingress_settings
}

output "environment_variables" {
  description = "The environment the function runs with."
  value       = google_cloudfunctions2_function.this.service_config[0].environment_variables
}

output "build_environment" {
  description = "The environment the function's build runs with (build_config.environment_variables)."
  value       = google_cloudfunctions2_function.this.build_config[0].environment_variables
}

output "build_environment_path" {
  description = "The file the build environment (build-env.json) and the Go runtime settings (runtime-env.json) are written to beside the archive (<build_dir>/<entry_point>.build-env.zip), read by the buildpack test and the benchmarks."
  value       = data.archive_file.build_environment.output_path
}
