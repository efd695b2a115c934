-- One row per statement: the counts Python adds up, the failed lots (capped), the
-- rare lots that need the slow path (no direct lock: fallback; a larger lock: split),
-- and for a dry run the lots it would release with their direct lock (capped).
-- Amounts travel as text inside JSON, never as JSON numbers (floats).
SELECT
    (SELECT count(*) FROM plan) AS selected,
    (SELECT count(*) FROM released) AS executed_count,
    (SELECT COALESCE(SUM(r.remaining), 0) FROM released r) AS executed_amount,
    (SELECT count(*) FROM released r WHERE r.lock_id IS NOT NULL AND r.lock_amount <= r.remaining)
        AS locks_closed_count,
    (SELECT count(*) FROM plan p WHERE p.code IS NOT NULL) AS errors_count,
    (SELECT json_agg(json_build_object(
                'lot_id', e.lot_id,
                'code', e.code,
                'message', CASE e.code
                    WHEN 'ALREADY_RELEASED' THEN 'a release operation already exists for this lot'
                    WHEN 'ACCOUNT_MISSING' THEN 'user ' || e.user_id || ' has no ' || %(currency)s || ' wallet'
                    ELSE 'locked balance ' || e.locked_balance || ' < ' || e.needed
                         || ' due on the matured lots up to this one (release ' || e.remaining || ')'
                END
            ) ORDER BY e.release_day, e.lot_id)
       FROM (SELECT * FROM plan p WHERE p.code IS NOT NULL
              ORDER BY p.release_day, p.lot_id LIMIT %(max_errors)s) e) AS errors,
    (SELECT json_agg(json_build_object(
                'lot_id', r.lot_id, 'user_id', r.user_id, 'amount', r.amount::text,
                'remaining', r.remaining::text, 'deposit_day', r.deposit_day,
                'source_operation_id', r.source_operation_id, 'operation_id', r.operation_id
            ) ORDER BY r.release_day, r.lot_id)
       FROM released r WHERE r.lock_id IS NULL) AS unlinked,
    (SELECT json_agg(json_build_object(
                'lot_id', r.lot_id, 'lock_id', r.lock_id, 'lock_amount', r.lock_amount::text,
                'remaining', r.remaining::text, 'operation_id', r.operation_id
            ) ORDER BY r.lock_id)
       FROM released r WHERE r.lock_amount > r.remaining) AS splits,
    {planned}
