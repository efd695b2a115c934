-- The plan of each selected lot. A real chunk and a dry run share it, so a dry run
-- reports what a real run does. It reads the CTE claimed (the lots) that the
-- statement defines before it.
--
-- A lot is released when its release operation does not exist yet (the key of its release
-- number reversal_count + 1: one key per release, never more), its owner has both
-- wallets, and the locked balance covers it together with the owner's earlier
-- selected lots (release_day, id order) and the lots that already failed for that
-- reason in this run (carry_lot_ids). Once a lot is not covered, neither are the
-- owner's later lots in this run: a shortfall is an inconsistency to investigate.
carry AS (
    SELECT l.user_id, SUM(l.amount - l.released_amount) AS amount
      FROM vault_vesting_lots l
     WHERE l.id = ANY(%(carry_lot_ids)s::bigint[]) AND l.status = 'VESTED'
     GROUP BY l.user_id
),
-- The key of each lot's next release: the first is the lot's id alone, as it always was; a
-- lot whose release was reversed is released again under the key of its next number.
keyed AS (
    SELECT c.*, 'avenir-vesting-release:' || c.id
                || CASE WHEN c.reversal_count > 0 THEN ':' || (c.reversal_count + 1) ELSE '' END AS release_key
      FROM claimed c
),
-- Each table is read by index lookups of exactly the chunk's keys (= ANY of an array), so
-- the plan stays the same however many other customers, operations and locks exist, and
-- each lookup runs once per lot. A status is tested outside the fenced (MATERIALIZED)
-- lookup: inside it, stale statistics that say "few ACTIVE locks" make a partial index on
-- ACTIVE look cheaper to read whole than the key lookup, and it is not once locks pile up.
wallets AS MATERIALIZED (
    SELECT a.owner_id, a.kind, a.id, a.balance
      FROM ledger_accounts a
     WHERE a.owner_id = ANY(ARRAY(SELECT DISTINCT c.user_id FROM claimed c))
       AND a.currency = %(currency)s AND a.kind IN ('WALLET_AVAILABLE', 'WALLET_LOCKED')
),
lot_locks AS MATERIALIZED (
    SELECT w.operation_id, w.id, w.amount, w.status
      FROM wallet_locks w
     WHERE w.operation_id = ANY(ARRAY(SELECT c.source_operation_id FROM claimed c))
),
released_keys AS MATERIALIZED (
    SELECT o.idempotency_key
      FROM operations o
     WHERE o.idempotency_key = ANY(ARRAY(SELECT k.release_key FROM keyed k))
),
candidates AS (
    SELECT c.id AS lot_id, c.user_id, c.amount, c.amount - c.released_amount AS remaining,
           c.deposit_day, c.release_day, c.source_operation_id, c.release_key,
           av.id AS available_id, lk.id AS locked_id, lk.balance AS locked_balance,
           rk.idempotency_key IS NOT NULL AS already_released,
           dl.id AS lock_id, dl.amount AS lock_amount,
           COALESCE(cr.amount, 0) AS carried
      FROM keyed c
      LEFT JOIN wallets av ON av.owner_id = c.user_id AND av.kind = 'WALLET_AVAILABLE'
      LEFT JOIN wallets lk ON lk.owner_id = c.user_id AND lk.kind = 'WALLET_LOCKED'
      LEFT JOIN lot_locks dl ON dl.operation_id = c.source_operation_id AND dl.status = 'ACTIVE'
      LEFT JOIN released_keys rk ON rk.idempotency_key = c.release_key
      LEFT JOIN carry cr ON cr.user_id = c.user_id
),
covered AS (
    SELECT cand.*,
           cand.carried + SUM(
               CASE WHEN NOT cand.already_released AND cand.available_id IS NOT NULL AND cand.locked_id IS NOT NULL
                    THEN cand.remaining ELSE 0 END
           ) OVER (PARTITION BY cand.user_id ORDER BY cand.release_day, cand.lot_id) AS needed
      FROM candidates cand
),
plan AS MATERIALIZED (
    SELECT cov.*,
           CASE WHEN cov.already_released THEN 'ALREADY_RELEASED'
                WHEN cov.available_id IS NULL OR cov.locked_id IS NULL THEN 'ACCOUNT_MISSING'
                WHEN cov.locked_balance < cov.needed THEN 'INSUFFICIENT_LOCKED_BALANCE'
           END AS code
      FROM covered cov
)
