-- One chunk of a real reversal, in one statement, once claim.sql has locked its lots and
-- wallets: plan, then write every row set-based, per release reversed:
-- - a VAULT_VESTING_RELEASE_REVERSAL operation (its key unique per reversed release), with
--   entries WALLET_AVAILABLE -r and WALLET_LOCKED +r, and both balances;
-- - a new ACTIVE wallet lock of r on the lot's deposit operation (the lot's link, as the
--   audit defines it), naming the reversal that locked the money again;
-- - the lot back to VESTED, with its new release day and one more reversal (its next release
--   then gets the key of its next number). The release's own rows are never edited.
WITH
claimed_operations AS MATERIALIZED (  -- by primary key; the type is tested outside (planning.sql)
    SELECT o.id, o.type, o.amount, o.operation_metadata->>'lot_id' AS lot_id
      FROM operations o
     WHERE o.id = ANY(%(claimed_release_ids)s::uuid[])
),
targets AS (
    SELECT c.id AS release_id, c.amount AS reversed, c.lot_id::bigint AS lot_id
      FROM claimed_operations c
     WHERE c.type = 'VAULT_VESTING_RELEASE'
),
{planning},
reversed AS MATERIALIZED (
    SELECT p.*, uuidv7() AS operation_id FROM plan p WHERE p.code IS NULL
),
legs AS MATERIALIZED (
    SELECT r.operation_id, leg.account_id, leg.amount
      FROM reversed r
     CROSS JOIN LATERAL (VALUES (r.available_id, -r.reversed), (r.locked_id, r.reversed)) AS leg(account_id, amount)
),
new_operations AS (
    INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at)
    SELECT r.operation_id, 'VAULT_VESTING_RELEASE_REVERSAL', r.user_id, %(currency)s, r.reversed,
           jsonb_build_object(
               'trace_id', %(trace_id)s::text,
               'lot_id', r.lot_id,
               'reverses_operation_id', r.release_id::text,
               'reversed_amount', r.reversed::text,
               'release_day', r.new_day::text,
               'reason', %(reason)s::text,
               'actor', %(actor)s::text,
               'vault_code', %(vault_code)s::text
           ),
           'avenir-vesting-release-reversal:' || r.release_id, now()
      FROM reversed r
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
new_locks AS (
    INSERT INTO wallet_locks (user_id, currency, amount, reason, reference_type, reference_id, status,
                              operation_id, reversal_operation_id, created_at)
    SELECT r.user_id, %(currency)s, r.reversed, 'VAULT_AVENIR_VESTING', 'VAULT', %(vault_id)s, 'ACTIVE',
           r.source_operation_id, r.operation_id, now()
      FROM reversed r
),
relocked_lots AS (
    UPDATE vault_vesting_lots l
       SET status = 'VESTED', released_amount = l.released_amount - r.reversed, release_day = r.new_day,
           reversal_count = l.reversal_count + 1
      FROM reversed r
     WHERE l.id = r.lot_id
)
{result}
