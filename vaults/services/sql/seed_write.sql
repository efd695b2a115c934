-- The batch's rows. The last statement moves each balance by the sum of its new entries
-- (the CHECK refuses a negative wallet).
INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at)
    SELECT op_id, 'FUNDING', user_id, %(cur)s, %(funded)s, '{}'::jsonb, idempotency_key, %(funding_at)s
    FROM seed_funding;

INSERT INTO ledger_entries (operation_id, account_id, currency, amount)
    SELECT op_id, %(funding_account)s, %(cur)s, -%(funded)s FROM seed_funding
    UNION ALL SELECT op_id, available_id, %(cur)s, %(funded)s FROM seed_funding;

INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at)
    SELECT op_id, 'VAULT_DEPOSIT', user_id, %(cur)s, %(amount)s,
           jsonb_build_object('vault_code', %(vault_code)s, 'deposit_day', to_char(day, 'YYYY-MM-DD')),
           idempotency_key, day + time '00:05' + j * interval '1 second'
    FROM seed_deposits;

INSERT INTO ledger_entries (operation_id, account_id, currency, amount)
    SELECT op_id, available_id, %(cur)s, -%(amount)s FROM seed_deposits
    UNION ALL SELECT op_id, locked_id, %(cur)s, %(amount)s FROM seed_deposits;

INSERT INTO wallet_locks (user_id, currency, amount, reason, reference_type, reference_id, status,
                              operation_id, created_at)
    SELECT user_id, %(cur)s, %(amount)s, 'VAULT_AVENIR_VESTING', 'VAULT', %(vault_id)s, 'ACTIVE', op_id,
           day + time '00:05' + j * interval '1 second'
    FROM seed_deposits;

INSERT INTO vault_vesting_lots (vault_id, vault_code, user_id, currency, amount, released_amount,
                                   deposit_day, release_day, status, source_operation_id, created_at)
    SELECT %(vault_id)s, %(vault_code)s, user_id, %(cur)s, %(amount)s, 0, day, day + %(vesting)s, 'VESTED',
           op_id, day + time '00:05' + j * interval '1 second'
    FROM seed_deposits;

UPDATE ledger_accounts a SET balance = a.balance + d.delta
    FROM (SELECT account_id, SUM(amount) AS delta FROM (
              SELECT available_id AS account_id, %(funded)s AS amount FROM seed_funding
              UNION ALL SELECT %(funding_account)s, -%(funded)s FROM seed_funding
              UNION ALL SELECT available_id, -%(amount)s FROM seed_deposits
              UNION ALL SELECT locked_id, %(amount)s FROM seed_deposits) e
          GROUP BY account_id) d
    WHERE a.id = d.account_id;
