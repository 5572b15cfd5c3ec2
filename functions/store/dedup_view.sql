-- One row per (source, event_id): the earliest received delivery. The table
-- is append-only and providers retry, so it holds duplicates by design.
-- ${table} is the fully qualified table (project.dataset.table); terraform
-- fills it with templatefile(), Go with dedupViewSQL.
SELECT * EXCEPT (delivery)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY source, event_id ORDER BY received_at) AS delivery
  FROM `${table}`
)
WHERE delivery = 1
