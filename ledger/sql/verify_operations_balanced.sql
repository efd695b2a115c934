-- verify_ledger, operations_balanced, exact: the operations whose entries do not sum to zero
-- in a currency. A grouping of every entry by operation: run only when the checksum of
-- verify_screen.sql differs, to name them.
-- Parameters: %(currency)s (NULL: every currency), %(max_rows)s.
SELECT 'operations_balanced' AS check_name,
       jsonb_build_object('operation_id', t.operation_id, 'currency', t.currency, 'entries_total', t.total::text,
                          'entry_count', t.entries) AS payload,
       COUNT(*) OVER () AS total
  FROM (
    SELECT e.operation_id, e.currency, SUM(e.amount) AS total, COUNT(*) AS entries
      FROM ledger_entries e
     WHERE (%(currency)s::text IS NULL OR e.currency = %(currency)s::text)
     GROUP BY e.operation_id, e.currency
    HAVING SUM(e.amount) <> 0
  ) t
 ORDER BY t.operation_id, t.currency
 LIMIT %(max_rows)s
