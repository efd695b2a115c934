-- The scope at the start of a run: its release operations, and those already reversed
-- (the run reports them as skipped; releases another run reverses meanwhile are that run's).
SELECT count(*),
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM operations r WHERE r.idempotency_key = 'avenir-vesting-release-reversal:' || o.id))
  FROM operations o
 WHERE o.type = 'VAULT_VESTING_RELEASE' AND o.currency = %(currency)s {scope}
