-- verify_ledger, avenir_locks_match_lots, screen: whether the ACTIVE AVENIR wallet locks and the
-- unreleased AVENIR lots differ for some (user, currency), by a seeded checksum (see
-- ledger/sql/verify_screen.sql): SUM of U(user, currency) * lock amount against SUM of
-- U(user, currency) * what the lot still holds, one multiplication per row and no grouping. Both
-- sides read only what is still locked (ACTIVE locks, VESTED lots), however long the released history.
-- Parameters: %(currency)s (NULL: every currency), %(vault_code)s, %(reason)s, %(seed)s.
-- Result: one row when they differ, none when they agree.
WITH locks AS (
    SELECT SUM(l.amount * ((hashint8extended(l.user_id, %(seed)s) # hashtextextended(l.currency, %(seed)s)) >> 2))
               AS checksum
      FROM wallet_locks l
     WHERE l.status = 'ACTIVE' AND l.reason = %(reason)s
       AND (%(currency)s::text IS NULL OR l.currency = %(currency)s::text)
),
lots AS (
    SELECT SUM((t.amount - t.released_amount)
               * ((hashint8extended(t.user_id, %(seed)s) # hashtextextended(t.currency, %(seed)s)) >> 2)) AS checksum
      FROM vault_vesting_lots t
     WHERE t.vault_code = %(vault_code)s AND t.status = 'VESTED'
       AND (%(currency)s::text IS NULL OR t.currency = %(currency)s::text)
)
SELECT 1 FROM locks k, lots t WHERE COALESCE(k.checksum, 0) <> COALESCE(t.checksum, 0)
