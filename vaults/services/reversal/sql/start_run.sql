-- A reversal run's RUNNING row, in one transaction with marking ABANDONED the vault's
-- reversal runs whose heartbeat is older than the lease (their process died; what they
-- committed stays, counted on their row). Reversal runs may run at once: rows are locked lot
-- by lot, and each reversal's key makes it once-only.
WITH abandoned AS (
    UPDATE vault_reversal_runs r
       SET status = 'ABANDONED', finished_at = clock_timestamp(), exit_code = 1,
           error = format('abandoned: no heartbeat since %%s (lease %%s s); noticed by %%s',
               to_char(COALESCE(r.heartbeat_at, r.started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
               %(lease_label)s::text, %(trace_id)s::text)
     WHERE r.vault_id = %(vault_id)s AND r.status = 'RUNNING'
       AND COALESCE(r.heartbeat_at, r.started_at) < now() - make_interval(secs => %(lease_seconds)s)
 RETURNING r.id
)
INSERT INTO vault_reversal_runs (
    trace_id, vault_id, currency, scope, release_run_id, as_of, selected_lots_count, reason, release_day,
    vesting_days, trigger, actor, task_id, holder, started_at, heartbeat_at, status, executed_count,
    executed_amount, errors_count, skipped_count, summary, error)
SELECT %(trace_id)s, %(vault_id)s, %(currency)s, %(scope)s, %(release_run_id)s, %(scope_day)s,
       %(selected_lots_count)s, %(reason)s, %(release_day)s, %(vesting_days)s, %(trigger)s, %(actor)s,
       %(task_id)s, %(holder)s, clock_timestamp(), clock_timestamp(), 'RUNNING', 0, 0, 0, 0, '{}'::jsonb, ''
  FROM (SELECT count(*) FROM abandoned) marked
RETURNING id
