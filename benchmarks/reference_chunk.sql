-- The ceiling the release engine is measured against: plain set-based SQL on the
-- project's own schema that writes the same rows for one key range (operation with
-- key and metadata, 2 entries, 2 balances, the lot, the lock), with the locking any
-- correct release needs (reference_claim.sql: lots SKIP LOCKED, then accounts in id
-- order). No planning, no per-lot outcomes, no fallback or split, no run record.
WITH
claimed AS (
    SELECT l.id, l.user_id, l.amount - l.released_amount AS remaining, l.source_operation_id
      FROM vault_vesting_lots l
     WHERE l.id = ANY(%(claimed_lot_ids)s::bigint[])
),
released AS MATERIALIZED (
    SELECT c.*, uuidv7() AS operation_id, av.id AS available_id, lk.id AS locked_id
      FROM claimed c
      JOIN ledger_accounts av ON av.owner_id = c.user_id AND av.currency = %(currency)s AND av.kind = 'WALLET_AVAILABLE'
      JOIN ledger_accounts lk ON lk.owner_id = c.user_id AND lk.currency = %(currency)s AND lk.kind = 'WALLET_LOCKED'
),
legs AS MATERIALIZED (
    SELECT r.operation_id, leg.account_id, leg.amount
      FROM released r
     CROSS JOIN LATERAL (VALUES (r.locked_id, -r.remaining), (r.available_id, r.remaining)) AS leg(account_id, amount)
),
new_operations AS (
    INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at)
    SELECT r.operation_id, 'VAULT_VESTING_RELEASE', r.user_id, %(currency)s, r.remaining,
           jsonb_build_object('trace_id', %(trace_id)s::text, 'release_amount', r.remaining::text,
                              'vault_code', 'AVENIR', 'lot_id', r.id, 'as_of', %(as_of)s::text),
           'avenir-vesting-release:' || r.id, now()
      FROM released r
),
new_entries AS (
    INSERT INTO ledger_entries (operation_id, account_id, currency, amount)
    SELECT g.operation_id, g.account_id, %(currency)s, g.amount FROM legs g
),
new_balances AS (
    UPDATE ledger_accounts a SET balance = a.balance + d.delta
      FROM (SELECT g.account_id, SUM(g.amount) AS delta FROM legs g GROUP BY g.account_id) d
     WHERE a.id = d.account_id
),
released_lots AS (
    UPDATE vault_vesting_lots l
       SET released_amount = l.amount, status = 'RELEASED',
           last_release_operation_id = r.operation_id, last_released_at = now()
      FROM released r
     WHERE l.id = r.id
),
closed_locks AS (
    UPDATE wallet_locks w
       SET status = 'RELEASED', released_at = now(), release_operation_id = r.operation_id
      FROM released r
     WHERE w.operation_id = r.source_operation_id AND w.status = 'ACTIVE'
)
SELECT count(*) FROM released
