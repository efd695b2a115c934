-- The lots of the scope's release operations in one key range (the lot-by-lot retry).
SELECT (o.operation_metadata->>'lot_id')::bigint AS lot_id, o.user_id
  FROM operations o
 WHERE o.type = 'VAULT_VESTING_RELEASE' AND o.currency = %(currency)s {scope}
   AND o.id > %(after_id)s::uuid AND o.id <= %(upto_id)s::uuid
 ORDER BY o.id
