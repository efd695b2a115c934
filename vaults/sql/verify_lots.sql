-- verify_ledger, avenir_locks_match_lots, exact: per (user, currency), the ACTIVE AVENIR wallet locks
-- against what the user's unreleased AVENIR lots still hold (amount - released_amount). Run only
-- when verify_lots_screen.sql finds a difference, to name the users. A RELEASED lot holds nothing
-- (a CHECK constraint: it is fully released).
-- Parameters: %(currency)s (NULL: every currency), %(vault_code)s, %(reason)s, %(max_rows)s.
WITH locks AS (
    SELECT l.user_id, l.currency, SUM(l.amount) AS total, COUNT(*) AS n
      FROM wallet_locks l
     WHERE l.status = 'ACTIVE' AND l.reason = %(reason)s
       AND (%(currency)s::text IS NULL OR l.currency = %(currency)s::text)
     GROUP BY l.user_id, l.currency
),
lots AS (
    SELECT t.user_id, t.currency, SUM(t.amount - t.released_amount) AS total, COUNT(*) AS n
      FROM vault_vesting_lots t
     WHERE t.vault_code = %(vault_code)s AND t.status = 'VESTED'
       AND (%(currency)s::text IS NULL OR t.currency = %(currency)s::text)
     GROUP BY t.user_id, t.currency
),
findings AS (
    SELECT COALESCE(k.user_id, t.user_id) AS user_id, COALESCE(k.currency, t.currency) AS currency,
           COALESCE(k.total, 0) AS locks, COALESCE(k.n, 0) AS lock_count,
           COALESCE(t.total, 0) AS lots, COALESCE(t.n, 0) AS lot_count
      FROM locks k FULL JOIN lots t ON t.user_id = k.user_id AND t.currency = k.currency
     WHERE COALESCE(k.total, 0) <> COALESCE(t.total, 0)
)
SELECT 'avenir_locks_match_lots' AS check_name,
       jsonb_build_object('user_id', user_id, 'currency', currency, 'active_locks', locks::text,
                          'active_lock_count', lock_count, 'unreleased_lots', lots::text,
                          'unreleased_lot_count', lot_count) AS payload,
       COUNT(*) OVER () AS total
  FROM findings
 ORDER BY user_id, currency
 LIMIT %(max_rows)s
