-- One chunk of a real run, in one statement, once claim.sql has locked its rows:
-- plan, then write every row set-based. The snapshot of this statement is newer than
-- the locks, so it reads the locked rows as they are now.
WITH
claimed AS (
    SELECT l.id, l.user_id, l.amount, l.released_amount, l.deposit_day, l.release_day, l.source_operation_id,
           l.reversal_count
      FROM vault_vesting_lots l
     WHERE l.id = ANY(%(claimed_lot_ids)s::bigint[]) AND l.status = 'VESTED' AND l.released_amount < l.amount
),
{planning},
released AS MATERIALIZED (
    SELECT p.*, uuidv7() AS operation_id FROM plan p WHERE p.code IS NULL
),
legs AS MATERIALIZED (
    SELECT r.operation_id, leg.account_id, leg.amount
      FROM released r
     CROSS JOIN LATERAL (VALUES (r.locked_id, -r.remaining), (r.available_id, r.remaining)) AS leg(account_id, amount)
),
new_operations AS (
    INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at)
    SELECT r.operation_id, 'VAULT_VESTING_RELEASE', r.user_id, %(currency)s, r.remaining,
           jsonb_build_object(
               'trace_id', %(trace_id)s::text,
               'release_amount', r.remaining::text,
               'vault_code', %(vault_code)s::text,
               'lot_id', r.lot_id,
               'as_of', %(as_of)s::text
           ),
           r.release_key, now()
      FROM released r
),
new_entries AS (
    INSERT INTO ledger_entries (operation_id, account_id, currency, amount)
    SELECT g.operation_id, g.account_id, %(currency)s, g.amount FROM legs g
),
new_balances AS (
    UPDATE ledger_accounts a
       SET balance = a.balance + d.delta
      FROM (SELECT g.account_id, SUM(g.amount) AS delta FROM legs g GROUP BY g.account_id) d
     WHERE a.id = d.account_id
),
released_lots AS (
    UPDATE vault_vesting_lots l
       SET released_amount = l.amount, status = 'RELEASED',
           last_release_operation_id = r.operation_id, last_released_at = now()
      FROM released r
     WHERE l.id = r.lot_id
),
closed_locks AS (
    UPDATE wallet_locks w
       SET status = 'RELEASED', released_at = now(), release_operation_id = r.operation_id
      FROM released r
     WHERE w.id = r.lock_id AND r.lock_amount <= r.remaining
)
{result}
