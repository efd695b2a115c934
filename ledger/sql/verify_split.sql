-- verify_ledger: when the screen's ledger checksum differs, which of operations_balanced and
-- account_balances fails, by the two halves of that checksum (see verify_screen.sql), so that
-- only the failing check's exact query (a grouping of every entry) runs. One more scan of the
-- entries and of the accounts, only on this failure path.
-- Parameters: %(currency)s (NULL: every currency), %(seed)s (the screen's).
WITH entry_side AS (
    SELECT SUM(e.amount * ((uuid_hash_extended(e.operation_id, %(seed)s)
                            # hashtextextended(e.currency, %(seed)s)) >> 2)) AS operations,
           SUM(e.amount * ((hashint8extended(e.account_id, %(seed)s)
                            # hashtextextended(e.currency, %(seed)s)) >> 2)) AS accounts
      FROM ledger_entries e
     WHERE (%(currency)s::text IS NULL OR e.currency = %(currency)s::text)
),
account_side AS (
    SELECT SUM(a.balance * ((hashint8extended(a.id, %(seed)s) # hashtextextended(a.currency, %(seed)s)) >> 2))
               AS accounts
      FROM ledger_accounts a
     WHERE (%(currency)s::text IS NULL OR a.currency = %(currency)s::text)
)
SELECT check_name FROM entry_side e, account_side a,
       LATERAL (VALUES
           ('operations_balanced', COALESCE(e.operations, 0) <> 0),
           ('account_balances', COALESCE(e.accounts, 0) <> COALESCE(a.accounts, 0))
       ) AS c(check_name, failing)
 WHERE c.failing
