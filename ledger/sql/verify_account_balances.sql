-- verify_ledger, account_balances, exact: the accounts whose balance is not the sum of their
-- entries, and entries in another currency than their account's (or on no account). A grouping
-- of every entry by account: run only when the checksum of verify_screen.sql differs.
-- Parameters: %(currency)s (NULL: every currency), %(max_rows)s.
WITH sums AS MATERIALIZED (
    SELECT e.account_id, e.currency, SUM(e.amount) AS total
      FROM ledger_entries e
     WHERE (%(currency)s::text IS NULL OR e.currency = %(currency)s::text)
     GROUP BY e.account_id, e.currency
),
findings AS (
    SELECT a.id AS account_id, jsonb_build_object(
               'account_id', a.id, 'owner_id', a.owner_id, 'kind', a.kind, 'currency', a.currency,
               'balance', a.balance::text, 'entries_total', COALESCE(s.total, 0)::text) AS payload
      FROM ledger_accounts a LEFT JOIN sums s ON s.account_id = a.id AND s.currency = a.currency
     WHERE a.balance <> COALESCE(s.total, 0)
       AND (%(currency)s::text IS NULL OR a.currency = %(currency)s::text)
    UNION ALL
    SELECT s.account_id, jsonb_build_object(
               'account_id', s.account_id, 'owner_id', a.owner_id, 'kind', a.kind, 'currency', a.currency,
               'entries_currency', s.currency, 'entries_total', s.total::text)
      FROM sums s LEFT JOIN ledger_accounts a ON a.id = s.account_id
     WHERE a.id IS NULL OR a.currency <> s.currency
)
SELECT 'account_balances' AS check_name, payload, COUNT(*) OVER () AS total
  FROM findings
 ORDER BY account_id
 LIMIT %(max_rows)s
