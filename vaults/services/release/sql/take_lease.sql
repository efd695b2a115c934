-- Take the run lease of (vault, currency, as_of): one transaction of two statements,
-- so it works the same on a direct connection and through a transaction pooler.
-- 1. A RUNNING row of this vault whose heartbeat is older than the lease belongs to a
--    run that died (any as_of): mark it ABANDONED, with the reason. Its counts stay: each
--    committed chunk added its own.
-- 2. Insert this run's RUNNING row. The partial unique index release_run_lease lets only
--    one live run per (vault, currency, as_of) exist: a second one inserts nothing.
WITH abandoned AS (
    UPDATE vault_release_runs r
       SET status = 'ABANDONED', finished_at = clock_timestamp(), exit_code = 1,
           error = format(
               'abandoned: no heartbeat since %%s (lease %%s s); taken over by %%s',
               to_char(COALESCE(r.heartbeat_at, r.started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
               %(lease_label)s::text, %(trace_id)s::text)
     WHERE r.vault_id = %(vault_id)s AND r.currency = %(currency)s AND r.status = 'RUNNING'
       AND COALESCE(r.heartbeat_at, r.started_at) < now() - make_interval(secs => %(lease_seconds)s)
 RETURNING r.id, r.trace_id, r.as_of, r.executed_count
)
SELECT a.id, a.trace_id, a.as_of, a.executed_count FROM abandoned a ORDER BY a.id
