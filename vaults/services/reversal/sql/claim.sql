-- Claim one key range of a reversal: the scope's release operations in the range, then
-- their released lots (FOR UPDATE SKIP LOCKED: concurrent reversals share the work; FOR UPDATE in the
-- final, waiting pass), then their owners' wallet accounts in id order, as the release does.
-- A release and a reversal of the same lot serialize on the lot's row. Returns the release
-- operations whose lots were claimed. {lot_filter} narrows to one lot (the lot-by-lot retry).
WITH
targets AS MATERIALIZED (
    SELECT o.id AS release_id, (o.operation_metadata->>'lot_id')::bigint AS lot_id
      FROM operations o
     WHERE o.type = 'VAULT_VESTING_RELEASE' AND o.currency = %(currency)s {scope}
       AND o.id > %(after_id)s::uuid AND o.id <= %(upto_id)s::uuid
       {lot_filter}
     ORDER BY o.id
     LIMIT %(limit)s
),
claimed AS MATERIALIZED (
    SELECT l.id, l.user_id, t.release_id
      FROM targets t
      JOIN vault_vesting_lots l ON l.id = t.lot_id
     WHERE l.vault_id = %(vault_id)s AND l.status = 'RELEASED' AND l.id <> ALL(%(exclude_lot_ids)s::bigint[])
     ORDER BY l.id
       {row_lock}
),
wallets AS (
    SELECT a.id
      FROM ledger_accounts a
     WHERE a.owner_id = ANY(ARRAY(SELECT c.user_id FROM claimed c))
       AND a.currency = %(currency)s AND a.kind IN ('WALLET_AVAILABLE', 'WALLET_LOCKED')
     ORDER BY a.id
       FOR UPDATE
)
SELECT ARRAY(SELECT c.release_id FROM claimed c ORDER BY c.release_id),
       (SELECT count(*) FROM wallets) AS wallets_locked
