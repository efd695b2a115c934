-- The seed's bulk path (vaults/services/seed.py), one batch of users: what it would write.
-- Existing users and wallets are reused, and operations whose idempotency key exists are
-- skipped: the services do the same. Same naming and dates as SeedPlan.username / lot_day /
-- deposit_at / *_key. The first two statements run alone: the second's row count tells
-- whether the batch reuses users.
CREATE TEMP TABLE seed_users ON COMMIT DROP AS
    SELECT i, %(prefix)s || '-' || lpad(i::text, 7, '0') AS username FROM generate_series(%(first)s, %(last)s) i;

INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                           date_joined)
    SELECT '!' || md5(random()::text), false, username, '', '', '', false, true, now() FROM seed_users
    ON CONFLICT (username) DO NOTHING;

INSERT INTO ledger_accounts (owner_id, currency, kind, balance, created_at)
    SELECT u.id, %(cur)s, k.kind, 0, now()
    FROM seed_users s JOIN auth_user u ON u.username = s.username,
         (VALUES ('WALLET_AVAILABLE'), ('WALLET_LOCKED')) AS k(kind)
    ON CONFLICT DO NOTHING;

CREATE TEMP TABLE seed_accounts ON COMMIT DROP AS
    SELECT s.i, s.username, u.id AS user_id, a.id AS available_id, l.id AS locked_id
    FROM seed_users s JOIN auth_user u ON u.username = s.username
    JOIN ledger_accounts a ON a.owner_id = u.id AND a.currency = %(cur)s AND a.kind = 'WALLET_AVAILABLE'
    JOIN ledger_accounts l ON l.owner_id = u.id AND l.currency = %(cur)s AND l.kind = 'WALLET_LOCKED';

CREATE TEMP TABLE seed_funding ON COMMIT DROP AS
    SELECT gen_random_uuid() AS op_id, user_id, available_id,
           'seed-funding:' || username || ':' || %(cur)s || ':' || %(day0)s::date AS idempotency_key
    FROM seed_accounts;

CREATE TEMP TABLE seed_deposits ON COMMIT DROP AS
    SELECT gen_random_uuid() AS op_id, a.user_id, a.available_id, a.locked_id, j,
           'seed:' || a.username || ':' || %(cur)s || ':' || %(day0)s::date || ':' || j AS key,
           %(deposit_prefix)s || 'seed:' || a.username || ':' || %(cur)s || ':' || %(day0)s::date || ':' || j
               AS idempotency_key,
           (%(day0)s::date + ((a.i * %(m)s + j) %% %(spread)s))::date AS day
    FROM seed_accounts a, generate_series(0, %(m)s - 1) j;
