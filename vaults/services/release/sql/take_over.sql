-- An operator's take-over of a RUNNING run (release_avenir_vesting --take-over), in the
-- transaction that then takes the lease: the run is marked ABANDONED at once, whatever
-- its heartbeat, with who took it over and why. This is safe even if the run was alive:
-- its next chunk finds its row no longer RUNNING and rolls back (renew_lease, LeaseLost).
UPDATE vault_release_runs r
   SET status = 'ABANDONED', finished_at = clock_timestamp(), exit_code = 1,
       error = format(
           'abandoned: taken over by %%s (release_avenir_vesting --take-over); last heartbeat %%s; continued by %%s',
           %(actor)s::text,
           to_char(COALESCE(r.heartbeat_at, r.started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
           %(trace_id)s::text)
 WHERE r.id = %(take_over)s AND r.status = 'RUNNING'
   AND r.vault_id = %(vault_id)s AND r.currency = %(currency)s AND r.as_of = %(as_of)s
RETURNING r.id
