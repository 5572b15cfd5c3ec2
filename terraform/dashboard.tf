# One Cloud Monitoring dashboard per enabled pattern, from the request-log
# metrics of monitoring.tf and Cloud Run's own: what an operator looks at
# first when a provider reports failed deliveries or the bill grows. The
# layout is in docs/performance.md (Dashboard).

locals {
  # Each enabled pattern's dashboard: its title and the Cloud Run services
  # whose instances it shows (Trigger's worker runs its async jobs).
  dashboards = { for k, d in {
    store   = { enabled = var.enable_store, title = "Store", webhook = "${var.name_prefix}-store", services = ["${var.name_prefix}-store"] }
    relay   = { enabled = var.enable_relay, title = "Relay", webhook = "${var.name_prefix}-relay", services = ["${var.name_prefix}-relay"] }
    trigger = { enabled = var.enable_trigger, title = "Trigger", webhook = "${var.name_prefix}-trigger", services = ["${var.name_prefix}-trigger", "${var.name_prefix}-trigger-worker"] }
  } : k => d if d.enabled }

  request_metric = "metric.type=\"logging.googleapis.com/user/${var.name_prefix}/requests\" AND resource.type=\"cloud_run_revision\""
  latency_metric = "metric.type=\"logging.googleapis.com/user/${var.name_prefix}/latency\" AND resource.type=\"cloud_run_revision\""
  refusal_metric = "metric.type=\"logging.googleapis.com/user/${var.name_prefix}/refusals\" AND resource.type=\"cloud_run_revision\""
}

resource "google_logging_metric" "refusals" {
  count = local.any_enabled ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}/refusals"
  description = "Webhook requests refused before their pattern ran, by source and by the check that refused them (refused_by: signature, timestamp_tolerance, body_limit, allow_cidrs, ...)."
  filter      = "${local.request_log_filter} AND jsonPayload.refused_by:*"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "source"
      value_type = "STRING"
    }
    labels {
      key        = "refused_by"
      value_type = "STRING"
    }
  }

  label_extractors = {
    source     = "EXTRACT(jsonPayload.source)"
    refused_by = "EXTRACT(jsonPayload.refused_by)"
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_dashboard" "pattern" {
  for_each = local.dashboards

  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "${var.name_prefix}: ${each.value.title}"
    mosaicLayout = {
      columns = 48
      tiles = [for i, w in concat(
        [
          {
            title = "Requests/s by source and status"
            xyChart = { chartOptions = { mode = "COLOR" }, dataSets = [{
              plotType = "STACKED_BAR"
              timeSeriesQuery = { timeSeriesFilter = {
                filter      = "${local.request_metric} AND resource.labels.service_name=\"${each.value.webhook}\""
                aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.source", "metric.label.status"] }
              } }
            }] }
          },
          {
            title = "5xx share by source (providers retry these)"
            xyChart = { chartOptions = { mode = "COLOR" }, dataSets = [{
              plotType = "LINE"
              timeSeriesQuery = { timeSeriesFilterRatio = {
                numerator = {
                  filter      = "${local.request_metric} AND resource.labels.service_name=\"${each.value.webhook}\" AND metric.labels.status=starts_with(\"5\")"
                  aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.source"] }
                }
                denominator = {
                  filter      = "${local.request_metric} AND resource.labels.service_name=\"${each.value.webhook}\""
                  aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.source"] }
                }
              } }
            }], thresholds = [{ value = var.alert_5xx_ratio, label = "alert_5xx_ratio" }] }
          },
          {
            title = "Latency p50, p95, p99 (ms, the function's own)"
            xyChart = { chartOptions = { mode = "COLOR" }, dataSets = [for p in ["50", "95", "99"] : {
              plotType       = "LINE"
              legendTemplate = "p${p}"
              timeSeriesQuery = { timeSeriesFilter = {
                filter      = "${local.latency_metric} AND resource.labels.service_name=\"${each.value.webhook}\""
                aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_PERCENTILE_${p}" }
              } }
            }] }
          },
          {
            title = "Refusals/s by refused_by"
            xyChart = { chartOptions = { mode = "COLOR" }, dataSets = [{
              plotType = "STACKED_BAR"
              timeSeriesQuery = { timeSeriesFilter = {
                filter      = "${local.refusal_metric} AND resource.labels.service_name=\"${each.value.webhook}\""
                aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.refused_by", "metric.label.source"] }
              } }
            }] }
          },
          {
            title = "Duplicates/s by source (redeliveries answered from the claim)"
            xyChart = { chartOptions = { mode = "COLOR" }, dataSets = [{
              plotType = "LINE"
              timeSeriesQuery = { timeSeriesFilter = {
                filter      = "${local.request_metric} AND resource.labels.service_name=\"${each.value.webhook}\" AND metric.labels.outcome=\"duplicate\""
                aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.source"] }
              } }
            }] }
          },
          {
            title = "Instances by service and state"
            xyChart = { chartOptions = { mode = "COLOR" }, dataSets = [{
              plotType = "STACKED_AREA"
              timeSeriesQuery = { timeSeriesFilter = {
                filter      = "metric.type=\"run.googleapis.com/container/instance_count\" AND resource.type=\"cloud_run_revision\" AND (${join(" OR ", [for s in each.value.services : "resource.labels.service_name=\"${s}\""])})"
                aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.service_name", "metric.label.state"] }
              } }
            }] }
          },
          {
            title = "Billable instance time (instance-seconds per second)"
            xyChart = { chartOptions = { mode = "COLOR" }, dataSets = [{
              plotType = "STACKED_AREA"
              timeSeriesQuery = { timeSeriesFilter = {
                filter      = "metric.type=\"run.googleapis.com/container/billable_instance_time\" AND resource.type=\"cloud_run_revision\" AND (${join(" OR ", [for s in each.value.services : "resource.labels.service_name=\"${s}\""])})"
                aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.service_name"] }
              } }
            }] }
          },
        ],
        # Only Trigger queues jobs; a dead-lettered one waits on the
        # dead-letter subscription for Replay.
        each.key != "trigger" ? [] : [
          {
            title = "Jobs dead-lettered, and waiting for Replay"
            xyChart = { chartOptions = { mode = "COLOR" }, dataSets = [
              {
                plotType       = "STACKED_BAR"
                legendTemplate = "dead-lettered"
                timeSeriesQuery = { timeSeriesFilter = {
                  filter      = "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${one(google_pubsub_subscription.trigger_jobs[*].name)}\""
                  aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_SUM" }
                } }
              },
              {
                plotType       = "LINE"
                legendTemplate = "waiting on the dead-letter subscription"
                timeSeriesQuery = { timeSeriesFilter = {
                  filter      = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${one(google_pubsub_subscription.trigger_dead_letter[*].name)}\""
                  aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_SUM" }
                } }
              },
            ] }
          },
        ]
        # Two tiles a row, each 24 columns by 16 rows.
      ) : merge({ xPos = (i % 2) * 24, yPos = floor(i / 2) * 16, width = 24, height = 16 }, { widget = w })]
    }
  })

  depends_on = [google_logging_metric.requests, google_logging_metric.latency, google_logging_metric.refusals, google_project_service.apis]
}
