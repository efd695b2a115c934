-- The AVENIR lock audit: every kind of finding in one statement (vaults/selectors/lock_audit.py).
-- The braced names are the module's constants and optional currency filters, spliced in
-- by str.format; every value is a bound parameter.
WITH links AS MATERIALIZED (
    -- Every AVENIR lot with its ACTIVE lock through the direct link, and every ACTIVE lock without a lot.
    SELECT lot.id AS lot_id, lot.vault_id, lot.currency AS lot_currency, lot.user_id AS lot_user,
           lot.amount AS lot_amount, lot.amount - lot.released_amount AS remaining, lot.deposit_day,
           lot.status AS lot_status, lot.source_operation_id,
           l.id AS lock_id, l.currency AS lock_currency, l.user_id AS lock_user, l.amount AS lock_amount,
           l.reason, l.operation_id AS lock_operation_id
      FROM (SELECT * FROM {_LOTS} lot WHERE lot.vault_code = '{AVENIR_CODE}' {lot_where}) lot
      FULL JOIN (SELECT * FROM {_LOCKS} l WHERE l.status = '{_ACTIVE}' {lock_where}) l
        ON l.operation_id = lot.source_operation_id
),
unlinked AS MATERIALIZED (
    -- Unreleased lots with no ACTIVE lock through the direct link.
    SELECT lot_id, vault_id, lot_currency, lot_user, lot_amount, remaining, deposit_day, source_operation_id
      FROM links WHERE lot_id IS NOT NULL AND lot_status <> '{_RELEASED}' AND lock_id IS NULL
),
pairs AS MATERIALIZED (
    -- The (lot, lock) pairs the release's fallback accepts (lock_matching.fallback_candidates).
    -- LATERAL: an index probe per unlinked lot, never a scan of every ACTIVE lock.
    SELECT u.lot_id, u.lot_currency, u.lot_user, u.lot_amount, c.id AS lock_id, c.created_at,
           COUNT(*) OVER (PARTITION BY c.id) AS lots_for_lock
      FROM unlinked u CROSS JOIN LATERAL (
        SELECT l.id, l.created_at FROM {_LOCKS} l
         WHERE l.user_id = u.lot_user AND l.currency = u.lot_currency AND l.reason = '{_REASON}'
           AND l.reference_type = '{VAULT_REFERENCE}' AND l.reference_id = u.vault_id
           AND l.status = '{_ACTIVE}' AND l.amount BETWEEN u.lot_amount - %s AND u.lot_amount + %s
           AND l.created_at >= (u.deposit_day::timestamp AT TIME ZONE 'UTC')
           AND l.created_at < ((u.deposit_day + 1)::timestamp AT TIME ZONE 'UTC')
           -- A lock still linked to another unreleased lot is never taken.
           AND (l.operation_id IS NULL OR NOT EXISTS (
                SELECT 1 FROM {_LOTS} p WHERE p.source_operation_id = l.operation_id AND p.status = '{_VESTED}'))
      ) c
),
findings AS (
    SELECT '{RELEASED_LOT_ACTIVE_LOCK}' AS kind, lot_id AS sort_key, lot_currency AS currency, lot_user AS user_id,
           lot_id, lock_id, lock_amount AS amount, NULL::numeric AS locked, NULL::numeric AS locks,
           NULL::numeric AS lots, NULL::bigint[] AS candidates, NULL::uuid AS operation_id
      FROM links WHERE lot_status = '{_RELEASED}' AND lock_id IS NOT NULL
       -- A split remainder that an unreleased lot's fallback takes is that lot's lock, not stale.
       AND lock_id NOT IN (SELECT p.lock_id FROM pairs p)
    UNION ALL
    -- The direct lock is RELEASED; or there is no lock at all, not even by the fallback.
    SELECT CASE WHEN closed.id IS NULL THEN '{UNRELEASED_LOT_LOCK_MISSING}' ELSE '{UNRELEASED_LOT_LOCK_RELEASED}' END,
           u.lot_id, u.lot_currency, u.lot_user, u.lot_id, closed.id, u.remaining, {_NULLS}
      FROM unlinked u LEFT JOIN LATERAL (
        SELECT l.id FROM {_LOCKS} l WHERE l.operation_id = u.source_operation_id ORDER BY l.id DESC LIMIT 1
      ) closed ON TRUE
     WHERE closed.id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM pairs p WHERE p.lot_id = u.lot_id)
    UNION ALL
    -- ACTIVE AVENIR locks that no lot has, neither by the direct link nor by the fallback.
    SELECT '{ORPHAN_ACTIVE_LOCK}', lock_id, lock_currency, lock_user, NULL, lock_id, lock_amount,
           NULL::numeric, NULL::numeric, NULL::numeric, NULL::bigint[], lock_operation_id
      FROM links k WHERE k.lot_id IS NULL AND k.reason = '{_REASON}'
       AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.lock_id = k.lock_id)
    UNION ALL
    -- Invariant 3 per (user, currency): WALLET_LOCKED balance == ACTIVE locks == unreleased lots.
    SELECT '{LOCKED_BALANCE_MISMATCH}', user_id, currency, user_id, NULL, NULL, NULL,
           SUM(locked), SUM(locks), SUM(lots), NULL::bigint[], NULL::uuid
      FROM (
        SELECT a.owner_id AS user_id, a.currency, a.balance AS locked, 0 AS locks, 0 AS lots
          FROM ledger_accounts a WHERE a.kind = 'WALLET_LOCKED' {acc_where}
        -- Pre-aggregated per branch: hash aggregates instead of sorting every row.
        UNION ALL SELECT lock_user, lock_currency, 0, SUM(lock_amount), 0 FROM links
         WHERE lock_id IS NOT NULL GROUP BY lock_user, lock_currency
        UNION ALL SELECT lot_user, lot_currency, 0, 0, SUM(remaining) FROM links
         WHERE lot_id IS NOT NULL AND lot_status <> '{_RELEASED}' GROUP BY lot_user, lot_currency
      ) b GROUP BY user_id, currency HAVING SUM(locked) <> SUM(locks) OR SUM(locked) <> SUM(lots)
    UNION ALL
    -- Lots only the fallback links: one candidate, or ambiguous (several, or a lock several lots compete for).
    SELECT CASE WHEN COUNT(*) > 1 OR MAX(lots_for_lock) > 1 THEN '{AMBIGUOUS_FALLBACK_LINK}'
                ELSE '{FALLBACK_ONLY_LINK}' END,
           lot_id, lot_currency, lot_user, lot_id, (ARRAY_AGG(lock_id ORDER BY created_at, lock_id))[1], lot_amount,
           NULL::numeric, NULL::numeric, NULL::numeric, ARRAY_AGG(lock_id ORDER BY created_at, lock_id), NULL::uuid
      FROM pairs GROUP BY lot_id, lot_currency, lot_user, lot_amount
)
