-- A dry run: the whole scope planned in one read-only statement, with the plan of a real
-- chunk. Nothing is locked and nothing is written.
WITH
targets AS (
    SELECT o.id AS release_id, o.amount AS reversed, (o.operation_metadata->>'lot_id')::bigint AS lot_id
      FROM operations o
     WHERE o.type = 'VAULT_VESTING_RELEASE' AND o.currency = %(currency)s {scope}
),
{planning},
reversed AS MATERIALIZED (
    SELECT p.* FROM plan p WHERE p.code IS NULL
)
{result}
