-- The plan of each release operation to reverse. A real chunk and a dry run share it, so a
-- dry run reports what a real run does. It reads the CTE targets (release_id, reversed,
-- lot_id) that the statement defines before it, and every table by index lookups of
-- exactly those keys (= ANY of an array).
--
-- A release is reversed when it is not reversed yet (its reversal's key is unique: once
-- only), it is its lot's current release (the lot is RELEASED by it), the lot's new release
-- day is after today and not before its deposit, the lot has no ACTIVE lock left (an audit
-- finding to repair first), its owner has both wallets, and the available balance covers
-- it together with the owner's earlier reversals in the chunk and those that failed for
-- that reason in this run (carry_lot_ids): money already spent is never taken back.
lots AS MATERIALIZED (
    SELECT l.id, l.user_id, l.status, l.deposit_day, l.last_release_operation_id, l.source_operation_id
      FROM vault_vesting_lots l
     WHERE l.id = ANY(ARRAY(SELECT t.lot_id FROM targets t)) AND l.vault_id = %(vault_id)s
),
reversal_keys AS MATERIALIZED (
    SELECT o.idempotency_key
      FROM operations o
     WHERE o.idempotency_key = ANY(ARRAY(SELECT 'avenir-vesting-release-reversal:' || t.release_id FROM targets t))
),
-- Statuses and types are tested outside these fenced lookups: with statistics taken when
-- no lock was ACTIVE, a partial index on ACTIVE looks cheaper to read whole than the key
-- lookup, and a reversal fills it as it goes (release planning.sql says the same).
lot_locks AS MATERIALIZED (
    SELECT w.operation_id, w.status
      FROM wallet_locks w
     WHERE w.operation_id = ANY(ARRAY(SELECT l.source_operation_id FROM lots l))
),
active_locks AS (
    SELECT DISTINCT k.operation_id FROM lot_locks k WHERE k.status = 'ACTIVE'
),
wallets AS MATERIALIZED (
    SELECT a.owner_id, a.kind, a.id, a.balance
      FROM ledger_accounts a
     WHERE a.owner_id = ANY(ARRAY(SELECT DISTINCT l.user_id FROM lots l))
       AND a.currency = %(currency)s AND a.kind IN ('WALLET_AVAILABLE', 'WALLET_LOCKED')
),
carry AS (
    SELECT l.user_id, SUM(l.released_amount) AS amount
      FROM vault_vesting_lots l
     WHERE l.id = ANY(%(carry_lot_ids)s::bigint[]) AND l.status = 'RELEASED'
     GROUP BY l.user_id
),
candidates AS (
    SELECT t.release_id, t.reversed, t.lot_id, l.id IS NOT NULL AS lot_found, l.user_id, l.status,
           l.last_release_operation_id, l.deposit_day, l.source_operation_id,
           COALESCE(%(release_day)s::date, l.deposit_day + %(vesting_days)s::int) AS new_day,
           rk.idempotency_key IS NOT NULL AS already_reversed,
           al.operation_id IS NOT NULL AS lock_active,
           av.id AS available_id, av.balance AS available_balance, lk.id AS locked_id,
           COALESCE(cr.amount, 0) AS carried
      FROM targets t
      LEFT JOIN lots l ON l.id = t.lot_id
      LEFT JOIN reversal_keys rk ON rk.idempotency_key = 'avenir-vesting-release-reversal:' || t.release_id
      LEFT JOIN active_locks al ON al.operation_id = l.source_operation_id
      LEFT JOIN wallets av ON av.owner_id = l.user_id AND av.kind = 'WALLET_AVAILABLE'
      LEFT JOIN wallets lk ON lk.owner_id = l.user_id AND lk.kind = 'WALLET_LOCKED'
      LEFT JOIN carry cr ON cr.user_id = l.user_id
),
checked AS (
    SELECT cand.*,
           CASE WHEN cand.already_reversed THEN 'ALREADY_REVERSED'
                WHEN NOT cand.lot_found THEN 'LOT_NOT_FOUND'
                WHEN cand.status <> 'RELEASED' OR cand.last_release_operation_id IS DISTINCT FROM cand.release_id
                    THEN 'NOT_CURRENT_RELEASE'
                WHEN cand.new_day <= %(today)s::date THEN 'RELEASE_DAY_NOT_AFTER_TODAY'
                WHEN cand.new_day < cand.deposit_day THEN 'RELEASE_DAY_BEFORE_DEPOSIT'
                WHEN cand.lock_active THEN 'ACTIVE_LOCK_EXISTS'
                WHEN cand.available_id IS NULL OR cand.locked_id IS NULL THEN 'ACCOUNT_MISSING'
           END AS precondition
      FROM candidates cand
),
covered AS (
    SELECT c.*,
           c.carried + SUM(CASE WHEN c.precondition IS NULL THEN c.reversed ELSE 0 END)
               OVER (PARTITION BY c.user_id ORDER BY c.release_id) AS needed
      FROM checked c
),
plan AS MATERIALIZED (
    SELECT cov.*,
           COALESCE(cov.precondition,
                    CASE WHEN cov.available_balance < cov.needed THEN 'INSUFFICIENT_AVAILABLE_BALANCE' END) AS code
      FROM covered cov
)
