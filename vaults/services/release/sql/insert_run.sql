-- The new run's RUNNING row, unless a live run of the same (vault, currency, as_of)
-- holds the lease (see take_lease.sql). started_at and heartbeat_at come from the
-- database's clock, the one every lease comparison uses.
INSERT INTO vault_release_runs (
    trace_id, vault_id, as_of, currency, trigger, actor, task_id, holder, selected_lots_count,
    started_at, heartbeat_at, status, executed_count, executed_amount, errors_count,
    locks_closed_count, summary, error)
VALUES (
    %(trace_id)s, %(vault_id)s, %(as_of)s, %(currency)s, %(trigger)s, %(actor)s, %(task_id)s, %(holder)s,
    %(selected_lots_count)s, clock_timestamp(), clock_timestamp(), 'RUNNING', 0, 0, 0, 0, '{}'::jsonb, '')
ON CONFLICT (vault_id, currency, as_of) WHERE status = 'RUNNING' DO NOTHING
RETURNING id
