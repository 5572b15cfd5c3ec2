-- The body of the table function <table>_between(start_ts, end_ts): one
-- row per (source, event_id) whose first delivery was received in
-- [start_ts, end_ts), without reading the whole table.
--
-- A retry of an event can only be received after its first delivery and
-- within the providers' retry horizon (Stripe retries for 3 days), so the
-- first delivery of any row in the range is at most ${retry_horizon_days}
-- days older: the ranking reads the partitions of
-- [start_ts - ${retry_horizon_days} days, end_ts) only, and a duplicate of
-- an event first received before start_ts ranks below that first delivery
-- and is left out. The view <table>_latest ranks the whole history (a
-- filter on received_at cannot reach below its window).
--
-- ${table} is the fully qualified table; ${start_ts} and ${end_ts} are the
-- bounds: the function's arguments in terraform (templatefile), query
-- parameters in Go (dedupBetweenSQL).
SELECT * EXCEPT (delivery)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY source, event_id ORDER BY received_at) AS delivery
  FROM `${table}`
  WHERE received_at >= TIMESTAMP_SUB(${start_ts}, INTERVAL ${retry_horizon_days} DAY)
    AND received_at < ${end_ts}
)
WHERE delivery = 1 AND received_at >= ${start_ts}
