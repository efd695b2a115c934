-- A dry run: the whole selection planned in one read-only statement, with the plan
-- of a real chunk. Nothing is locked and nothing is written.
WITH
claimed AS (
    SELECT l.id, l.user_id, l.amount, l.released_amount, l.deposit_day, l.release_day, l.source_operation_id,
           l.reversal_count
      FROM vault_vesting_lots l
     WHERE l.vault_id = %(vault_id)s AND l.currency = %(currency)s AND l.status = 'VESTED'
       AND l.release_day <= %(as_of)s AND l.released_amount < l.amount
       {lot_filter}
),
{planning},
released AS MATERIALIZED (
    SELECT p.*, NULL::uuid AS operation_id FROM plan p WHERE p.code IS NULL
)
{result}
