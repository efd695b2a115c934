-- The plain-SQL ceiling of a /metrics scrape: the same facts as vaults.selectors.release_metrics
-- (runs, coverage, overdue lots, stuck and abandoned runs, the last verification), per AVENIR
-- vault, in one statement on the project's own schema and indexes. Parameters: %(lease_seconds)s.
WITH v AS (
    SELECT id, currency, clock_timestamp() AS now, (clock_timestamp() AT TIME ZONE 'UTC')::date AS today
      FROM vaults WHERE code = 'AVENIR'
)
SELECT v.currency, r.lots, r.amount, r.succeeded, r.with_errors, r.failed, r.abandoned_at, c.covered_at,
       d.seconds, o.overdue, o.overdue_amount, o.oldest, s.stuck, a.abandoned, ver.checked_at, ver.ok, ver.violations
  FROM v
 CROSS JOIN LATERAL (
    SELECT SUM(executed_count) AS lots, SUM(executed_amount) AS amount,
           MAX(finished_at) FILTER (WHERE status = 'SUCCEEDED') AS succeeded,
           MAX(finished_at) FILTER (WHERE status = 'COMPLETED_WITH_ERRORS') AS with_errors,
           MAX(finished_at) FILTER (WHERE status = 'FAILED') AS failed,
           MAX(finished_at) FILTER (WHERE status = 'ABANDONED') AS abandoned_at
      FROM vault_release_runs WHERE currency = v.currency
 ) r
 CROSS JOIN LATERAL (
    SELECT MAX(finished_at) AS covered_at FROM vault_release_runs
     WHERE currency = v.currency AND selected_lots_count IS NULL
       AND status IN ('SUCCEEDED', 'COMPLETED_WITH_ERRORS') AND as_of >= v.today - 1
 ) c
 LEFT JOIN LATERAL (
    SELECT EXTRACT(EPOCH FROM finished_at - started_at) AS seconds FROM vault_release_runs
     WHERE currency = v.currency AND status IN ('SUCCEEDED', 'COMPLETED_WITH_ERRORS', 'FAILED')
       AND finished_at IS NOT NULL
     ORDER BY finished_at DESC LIMIT 1
 ) d ON true
 CROSS JOIN LATERAL (
    SELECT COUNT(*) AS overdue, COALESCE(SUM(amount - released_amount), 0) AS overdue_amount, MIN(release_day) AS oldest
      FROM vault_vesting_lots
     WHERE vault_id = v.id AND currency = v.currency AND status = 'VESTED' AND release_day < v.today
 ) o
 CROSS JOIN LATERAL (
    SELECT COUNT(*) AS stuck FROM vault_release_runs
     WHERE currency = v.currency AND status = 'RUNNING'
       AND COALESCE(heartbeat_at, started_at) < v.now - make_interval(secs => %(lease_seconds)s)
 ) s
 CROSS JOIN LATERAL (
    SELECT COUNT(*) AS abandoned FROM vault_release_runs
     WHERE currency = v.currency AND status = 'ABANDONED'
       AND started_at > COALESCE((SELECT MAX(started_at) FROM vault_release_runs
                                   WHERE currency = v.currency AND selected_lots_count IS NULL
                                     AND status IN ('SUCCEEDED', 'COMPLETED_WITH_ERRORS')), '-infinity')
 ) a
 LEFT JOIN LATERAL (
    SELECT checked_at, ok, violations FROM vault_ledger_verifications
     WHERE currency IN (v.currency, '') ORDER BY checked_at DESC, id DESC LIMIT 1
 ) ver ON true
 ORDER BY v.currency
