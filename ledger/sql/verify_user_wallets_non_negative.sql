-- verify_ledger, user_wallets_non_negative, exact: the user wallets with a negative balance (also a
-- CHECK constraint; verified in case it was dropped). Parameters: %(currency)s, %(max_rows)s.
SELECT 'user_wallets_non_negative' AS check_name,
       jsonb_build_object('account_id', a.id, 'owner_id', a.owner_id, 'kind', a.kind, 'currency', a.currency,
                          'balance', a.balance::text) AS payload,
       COUNT(*) OVER () AS total
  FROM ledger_accounts a
 WHERE a.kind IN ('WALLET_AVAILABLE', 'WALLET_LOCKED') AND a.balance < 0
   AND (%(currency)s::text IS NULL OR a.currency = %(currency)s::text)
 ORDER BY a.id
 LIMIT %(max_rows)s
