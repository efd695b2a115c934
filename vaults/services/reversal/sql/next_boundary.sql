-- The last release operation of the next range of the scope after a key (offset = size - 1),
-- in operation id order: an index range scan of (currency, as_of, id), so handing out a range
-- costs the same whatever came before.
SELECT o.id
  FROM operations o
 WHERE o.type = 'VAULT_VESTING_RELEASE' AND o.currency = %(currency)s {scope}
   AND o.id > %(after_id)s::uuid
 ORDER BY o.id
OFFSET %(offset)s
 LIMIT 1
