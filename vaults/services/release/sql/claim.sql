-- Claim one key range of a real run: lock its lots, then their owners' wallet
-- accounts in id order (so concurrent chunks never deadlock), then their direct
-- locks. Returns the claimed lot ids. The write statement that follows, in the same
-- transaction, then reads these rows' latest versions under a fresh snapshot.
-- {lot_filter} narrows to an explicit selection; {row_lock} is FOR UPDATE SKIP
-- LOCKED (concurrent runs share the work) or FOR UPDATE (the final, waiting pass).
WITH
claimed AS MATERIALIZED (
    SELECT l.id, l.user_id, l.source_operation_id
      FROM vault_vesting_lots l
     WHERE l.vault_id = %(vault_id)s AND l.currency = %(currency)s AND l.status = 'VESTED'
       AND l.release_day <= %(as_of)s AND l.released_amount < l.amount
       AND (l.release_day, l.id) > (%(after_day)s::date, %(after_id)s::bigint)
       AND (l.release_day, l.id) <= (%(upto_day)s::date, %(upto_id)s::bigint)
       AND l.id <> ALL(%(exclude_lot_ids)s::bigint[])
       {lot_filter}
     ORDER BY l.release_day, l.id
     LIMIT %(limit)s
       {row_lock}
),
wallets AS (
    SELECT a.id
      FROM ledger_accounts a
     WHERE a.owner_id = ANY(ARRAY(SELECT c.user_id FROM claimed c))
       AND a.currency = %(currency)s AND a.kind IN ('WALLET_AVAILABLE', 'WALLET_LOCKED')
     ORDER BY a.id
       FOR UPDATE
),
-- The status is tested outside the lookup by operation (see planning.sql: stale statistics).
lot_locks AS MATERIALIZED (
    SELECT w.id, w.status
      FROM wallet_locks w
     WHERE w.operation_id = ANY(ARRAY(SELECT c.source_operation_id FROM claimed c))
),
direct_locks AS (
    SELECT w.id
      FROM wallet_locks w
     WHERE w.id = ANY(ARRAY(SELECT k.id FROM lot_locks k WHERE k.status = 'ACTIVE'))
     ORDER BY w.id
       FOR UPDATE
)
SELECT ARRAY(SELECT c.id FROM claimed c ORDER BY c.id) AS lot_ids,
       (SELECT count(*) FROM wallets) AS wallets_locked,
       (SELECT count(*) FROM direct_locks) AS locks_locked
