-- A key already used for another movement, as post_operation and deposit_to_vault check it:
-- the funding conflict, then the deposit conflict.
SELECT f.idempotency_key FROM seed_funding f JOIN operations o ON o.idempotency_key = f.idempotency_key
    WHERE (o.type, o.currency, o.amount, o.user_id) IS DISTINCT FROM ('FUNDING', %(cur)s, %(funded)s, f.user_id)
    LIMIT 1;

SELECT d.key FROM seed_deposits d JOIN operations o ON o.idempotency_key = d.idempotency_key
    LEFT JOIN vault_vesting_lots l ON l.source_operation_id = o.id
    WHERE (o.user_id, l.vault_id, l.amount) IS DISTINCT FROM (d.user_id, %(vault_id)s, %(amount)s)
    LIMIT 1;
