# Metrics from the functions' one-line request logs ("webhook request",
# with jsonPayload.source, status, latency_ms, outcome, event_type) and the
# alerts a webhook operator needs. Created when any pattern is enabled; the
# dead-letter alert only with Trigger.

locals {
  # Cloud Run functions log as the Cloud Run revision of their service.
  webhook_services = compact([
    var.enable_store ? "${var.name_prefix}-store" : "",
    var.enable_relay ? "${var.name_prefix}-relay" : "",
    var.enable_trigger ? "${var.name_prefix}-trigger" : "",
  ])
  request_log_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "(${join(" OR ", [for s in local.webhook_services : "resource.labels.service_name=\"${s}\""])})",
    "jsonPayload.message=\"webhook request\"",
  ])
  alert_documentation = "Runbook: see terraform/README.md (Monitoring). Request logs: ${local.request_log_filter}"
}

resource "google_logging_metric" "requests" {
  count = local.any_enabled ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}/requests"
  description = "Webhook requests by function, source, HTTP status and outcome."
  filter      = local.request_log_filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "source"
      value_type = "STRING"
    }
    labels {
      key        = "status"
      value_type = "STRING"
    }
    labels {
      key        = "outcome"
      value_type = "STRING"
    }
  }

  label_extractors = {
    source  = "EXTRACT(jsonPayload.source)"
    status  = "EXTRACT(jsonPayload.status)"
    outcome = "EXTRACT(jsonPayload.outcome)"
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "verification_failures" {
  count = local.any_enabled ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}/verification_failures"
  description = "Webhook requests refused with 401: signature, token or address verification failed."
  filter      = "${local.request_log_filter} AND jsonPayload.status=401"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "source"
      value_type = "STRING"
    }
  }

  label_extractors = {
    source = "EXTRACT(jsonPayload.source)"
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "latency" {
  count = local.any_enabled ? 1 : 0

  project         = var.project_id
  name            = "${var.name_prefix}/latency"
  description     = "Webhook request latency (ms) by source."
  filter          = local.request_log_filter
  value_extractor = "EXTRACT(jsonPayload.latency_ms)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
    labels {
      key        = "source"
      value_type = "STRING"
    }
  }

  label_extractors = {
    source = "EXTRACT(jsonPayload.source)"
  }

  # 1 ms to about 33 s in 25 buckets.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 25
      growth_factor      = 1.55
      scale              = 1
    }
  }

  depends_on = [google_project_service.apis]
}

# Cloud Monitoring answers 404 for a log-based metric created moments
# earlier ("it could take up to 10 minutes to become available") and the
# provider does not retry (hashicorp/terraform-provider-google#11102), so
# the first apply on an empty project failed at the alert policies. The
# alerts wait here, once, after their metrics are created or replaced:
# later applies do not wait. The wait is the documented bound, so it is
# enough by Google's own statement; nothing else in the apply waits on it.
resource "terraform_data" "log_metrics_visible" {
  count = local.any_enabled ? 1 : 0

  triggers_replace = [
    google_logging_metric.requests[0].id,
    google_logging_metric.verification_failures[0].id,
  ]

  provisioner "local-exec" {
    command = "sleep ${var.log_metric_wait_seconds}"
  }
}

resource "google_monitoring_alert_policy" "failure_rate" {
  count = local.any_enabled ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name_prefix}: webhook 5xx ratio above ${var.alert_5xx_ratio}"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "5xx share of webhook requests"
    condition_threshold {
      filter             = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.requests[0].name}\" AND resource.type=\"cloud_run_revision\" AND metric.labels.status=starts_with(\"5\")"
      denominator_filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.requests[0].name}\" AND resource.type=\"cloud_run_revision\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_5xx_ratio
      duration           = "300s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Webhooks answered 5xx (providers will retry). ${local.alert_documentation}"
  }

  depends_on = [terraform_data.log_metrics_visible]
}

resource "google_monitoring_alert_policy" "verification_failures" {
  count = local.any_enabled ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name_prefix}: burst of 401s"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "401s per source"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.verification_failures[0].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_401_per_minute
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.source"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A source fails verification: a rotated or wrong secret, or someone probing the URL. ${local.alert_documentation}"
  }

  depends_on = [terraform_data.log_metrics_visible]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  count = var.enable_trigger ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name_prefix}: trigger jobs dead-lettered"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Jobs forwarded to the dead-letter topic"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.trigger_jobs[0].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A trigger job failed ${var.trigger_max_delivery_attempts} deliveries and is on ${google_pubsub_topic.trigger_dead_letter[0].name}; inspect it with `gcloud pubsub subscriptions pull ${google_pubsub_subscription.trigger_dead_letter[0].name}`."
  }
}
