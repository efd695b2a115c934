-- verify_ledger, the ledger's screen (ledger/verification.py): which checks fail, reading each table
-- once and grouping nothing (not by operation, account or user, not even by currency).
-- Parameters: %(currency)s (NULL: every currency), %(seed)s (a random bigint, new every run).
-- Result: the names of the checks that fail ('ledger_checksum' stands for operations_balanced and
-- account_balances together: verify_split.sql tells them apart); nothing when all hold. A failing
-- check is then named row by row by its exact query (verify_<check>.sql).
--
-- Checksums. Seeded 62-bit hashes weigh each row: W(operation, currency), V(account, currency) and
-- U(user, currency) (a hash of the id xor a hash of the currency code). Then
--   SUM over entries of amount * (W(op, entry currency) + V(account, entry currency))
--     = SUM over (operation, currency) of W * (the operation's total in that currency)  -- 0 when they balance
--     + SUM over accounts of V(account, its currency) * (its entry total)   -- = the accounts' side,
--   SUM over accounts of V(account, its currency) * balance                  --   when balances are right
-- (an entry in another currency than its account's gets another V: a difference), and
--   SUM over WALLET_LOCKED accounts of U(owner, currency) * balance
--     = SUM over ACTIVE locks of U(user, currency) * amount                 -- when locked balances match.
-- Exact numeric arithmetic: when the checks hold, the sides are equal; when one fails they differ,
-- except by a cancellation of probability about 2^-61 (a new seed every run). A difference is never
-- a false alarm, and the exact queries then name the rows. One multiplication per row.
WITH entry_side AS (
    SELECT SUM(e.amount * (((uuid_hash_extended(e.operation_id, %(seed)s)
                             # hashtextextended(e.currency, %(seed)s)) >> 2)
                           + ((hashint8extended(e.account_id, %(seed)s)
                               # hashtextextended(e.currency, %(seed)s)) >> 2))) AS checksum
      FROM ledger_entries e
     WHERE (%(currency)s::text IS NULL OR e.currency = %(currency)s::text)
),
account_side AS (
    SELECT SUM(a.balance * ((hashint8extended(a.id, %(seed)s) # hashtextextended(a.currency, %(seed)s)) >> 2))
               AS checksum,
           SUM(a.balance * ((hashint8extended(a.owner_id, %(seed)s) # hashtextextended(a.currency, %(seed)s)) >> 2))
               FILTER (WHERE a.kind = 'WALLET_LOCKED') AS locked,
           COUNT(*) FILTER (WHERE a.kind IN ('WALLET_AVAILABLE', 'WALLET_LOCKED') AND a.balance < 0) AS negative
      FROM ledger_accounts a
     WHERE (%(currency)s::text IS NULL OR a.currency = %(currency)s::text)
),
lock_side AS (
    SELECT SUM(l.amount * ((hashint8extended(l.user_id, %(seed)s) # hashtextextended(l.currency, %(seed)s)) >> 2))
               AS locked
      FROM wallet_locks l
     WHERE l.status = 'ACTIVE' AND (%(currency)s::text IS NULL OR l.currency = %(currency)s::text)
)
SELECT check_name FROM entry_side e, account_side a, lock_side k,
       LATERAL (VALUES
           ('ledger_checksum', COALESCE(e.checksum, 0) <> COALESCE(a.checksum, 0)),
           ('user_wallets_non_negative', a.negative > 0),
           ('locked_balances_match_locks', COALESCE(a.locked, 0) <> COALESCE(k.locked, 0))
       ) AS c(check_name, failing)
 WHERE c.failing
