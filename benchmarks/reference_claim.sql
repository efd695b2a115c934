-- The reference's claim: the lots of a key range (SKIP LOCKED), then their owners'
-- wallet accounts in id order. Returns the claimed lot ids.
WITH
claimed AS MATERIALIZED (
    SELECT l.id, l.user_id
      FROM vault_vesting_lots l
     WHERE l.vault_id = %(vault_id)s AND l.currency = %(currency)s AND l.status = 'VESTED'
       AND l.release_day <= %(as_of)s AND l.released_amount < l.amount
       AND (l.release_day, l.id) > (%(after_day)s::date, %(after_id)s::bigint)
       AND (l.release_day, l.id) <= (%(upto_day)s::date, %(upto_id)s::bigint)
     ORDER BY l.release_day, l.id
       FOR UPDATE SKIP LOCKED
),
accounts AS (
    SELECT a.id
      FROM ledger_accounts a
     WHERE a.owner_id = ANY(ARRAY(SELECT c.user_id FROM claimed c))
       AND a.currency = %(currency)s AND a.kind IN ('WALLET_AVAILABLE', 'WALLET_LOCKED')
     ORDER BY a.id
       FOR UPDATE
)
SELECT ARRAY(SELECT c.id FROM claimed c), (SELECT count(*) FROM accounts)
