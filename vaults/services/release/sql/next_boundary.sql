-- The last key of the next range of pending lots after a key (offset = size - 1): an
-- index range scan, so handing out a range costs the same whatever came before.
SELECT l.release_day, l.id
  FROM vault_vesting_lots l
 WHERE l.vault_id = %(vault_id)s AND l.currency = %(currency)s AND l.status = 'VESTED'
   AND l.release_day <= %(as_of)s
   AND (l.release_day, l.id) > (%(after_day)s::date, %(after_id)s::bigint)
   AND l.id <> ALL(%(exclude_lot_ids)s::bigint[])
   {lot_filter}
 ORDER BY l.release_day, l.id
OFFSET %(offset)s
 LIMIT 1
