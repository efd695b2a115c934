-- The unlock forecast of every AVENIR vault (one per currency), each on its own: the overdue
-- backlog (VESTED lots whose release day is before today) and the next %(days)s release days
-- from today on, with their lot count and remaining amount (the runbook's "next run" query,
-- per currency, so one currency's days never crowd out another's).
-- Everything walks the partial index of pending lots (vault_id, currency, release_day, id) WHERE
-- VESTED: the backlog reads the overdue lots only; the next days are found one index probe each
-- (a loose index scan: the smallest release day after the previous one), then each day's lots are
-- counted. The cost follows the lots of those days, never the whole pending set.
-- Parameters: %(vault_code)s, %(today)s (NULL: the database's UTC date), %(days)s.
WITH RECURSIVE v AS (
    SELECT id, currency, COALESCE(%(today)s::date, (clock_timestamp() AT TIME ZONE 'UTC')::date) AS today
      FROM vaults WHERE code = %(vault_code)s
),
next_days AS (
    SELECT v.id AS vault_id, v.currency, 1 AS n,
           (SELECT MIN(l.release_day) FROM vault_vesting_lots l
             WHERE l.vault_id = v.id AND l.currency = v.currency AND l.status = 'VESTED'
               AND l.release_day >= v.today) AS release_day
      FROM v
    UNION ALL
    SELECT d.vault_id, d.currency, d.n + 1,
           (SELECT MIN(l.release_day) FROM vault_vesting_lots l
             WHERE l.vault_id = d.vault_id AND l.currency = d.currency AND l.status = 'VESTED'
               AND l.release_day > d.release_day)
      FROM next_days d
     WHERE d.release_day IS NOT NULL AND d.n < %(days)s
)
SELECT v.currency, v.today, 'overdue' AS part, o.oldest_day AS release_day, o.lot_count, o.remaining
  FROM v CROSS JOIN LATERAL (
    SELECT MIN(l.release_day) AS oldest_day, COUNT(*) AS lot_count,
           COALESCE(SUM(l.amount - l.released_amount), 0) AS remaining
      FROM vault_vesting_lots l
     WHERE l.vault_id = v.id AND l.currency = v.currency AND l.status = 'VESTED' AND l.release_day < v.today
  ) o
UNION ALL
SELECT v.currency, v.today, 'upcoming', d.release_day, c.lot_count, c.remaining
  FROM v JOIN next_days d ON d.vault_id = v.id AND d.release_day IS NOT NULL
 CROSS JOIN LATERAL (
    SELECT COUNT(*) AS lot_count, SUM(l.amount - l.released_amount) AS remaining
      FROM vault_vesting_lots l
     WHERE l.vault_id = d.vault_id AND l.currency = d.currency AND l.status = 'VESTED'
       AND l.release_day = d.release_day
  ) c
ORDER BY 1, 3, 4
