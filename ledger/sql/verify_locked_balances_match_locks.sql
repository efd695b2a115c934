-- verify_ledger, locked_balances_match_locks, exact: per (user, currency), the WALLET_LOCKED balance
-- against the sum of the user's ACTIVE wallet locks (ACTIVE locks of a user with no WALLET_LOCKED
-- account included). Parameters: %(currency)s, %(max_rows)s.
WITH active_locks AS (
    SELECT l.user_id, l.currency, SUM(l.amount) AS total, COUNT(*) AS locks
      FROM wallet_locks l
     WHERE l.status = 'ACTIVE' AND (%(currency)s::text IS NULL OR l.currency = %(currency)s::text)
     GROUP BY l.user_id, l.currency
),
locked_accounts AS (
    SELECT a.id, a.owner_id, a.currency, a.balance
      FROM ledger_accounts a
     WHERE a.kind = 'WALLET_LOCKED' AND (%(currency)s::text IS NULL OR a.currency = %(currency)s::text)
),
findings AS (
    SELECT w.id AS account_id, COALESCE(w.owner_id, l.user_id) AS owner_id, COALESCE(w.currency, l.currency) AS currency,
           COALESCE(w.balance, 0) AS locked_balance, COALESCE(l.total, 0) AS active_locks,
           COALESCE(l.locks, 0) AS active_lock_count
      FROM locked_accounts w
      FULL JOIN active_locks l ON l.user_id = w.owner_id AND l.currency = w.currency
     WHERE COALESCE(w.balance, 0) <> COALESCE(l.total, 0)
)
SELECT 'locked_balances_match_locks' AS check_name,
       jsonb_build_object('account_id', account_id, 'owner_id', owner_id, 'currency', currency,
                          'locked_balance', locked_balance::text, 'active_locks', active_locks::text,
                          'active_lock_count', active_lock_count) AS payload,
       COUNT(*) OVER () AS total
  FROM findings
 ORDER BY owner_id, currency
 LIMIT %(max_rows)s
