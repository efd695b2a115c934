-- One row per statement: the counts Python adds up, the failed lots (capped), and for a dry
-- run the lots it would put back (capped). Amounts travel as text inside JSON, never as JSON
-- numbers (floats).
SELECT
    (SELECT count(*) FROM plan) AS selected,
    (SELECT count(*) FROM reversed) AS reversed_count,
    (SELECT COALESCE(SUM(r.reversed), 0) FROM reversed r) AS reversed_amount,
    (SELECT count(*) FROM plan p WHERE p.code = 'ALREADY_REVERSED') AS already_reversed,
    (SELECT count(*) FROM plan p WHERE p.code <> 'ALREADY_REVERSED') AS errors_count,
    (SELECT json_agg(json_build_object(
                'lot_id', e.lot_id,
                'code', e.code,
                'message', CASE e.code
                    WHEN 'LOT_NOT_FOUND' THEN 'release ' || e.release_id || ' names lot ' || e.lot_id
                         || ', which is not in this vault'
                    WHEN 'NOT_CURRENT_RELEASE' THEN 'the lot is ' || e.status || '; release ' || e.release_id
                         || ' is not its current release (that is '
                         || COALESCE(e.last_release_operation_id::text, 'none') || ')'
                    WHEN 'RELEASE_DAY_NOT_AFTER_TODAY' THEN 'the new release day ' || e.new_day
                         || ' is not after today (' || %(today)s::date || '): the lot stays released'
                    WHEN 'RELEASE_DAY_BEFORE_DEPOSIT' THEN 'the new release day ' || e.new_day
                         || ' is before the deposit day ' || e.deposit_day
                    WHEN 'ACTIVE_LOCK_EXISTS' THEN 'the deposit still has an ACTIVE wallet lock: '
                         || 'repair it from the lock audit first'
                    WHEN 'ACCOUNT_MISSING' THEN 'user ' || e.user_id || ' has no ' || %(currency)s || ' wallet'
                    ELSE 'available balance ' || e.available_balance || ' < ' || e.needed
                         || ' due for the reversals up to this one (reversal ' || e.reversed
                         || '): the money was spent, and is never taken back below zero'
                END
            ) ORDER BY e.release_id)
       FROM (SELECT * FROM plan p WHERE p.code IS NOT NULL AND p.code <> 'ALREADY_REVERSED'
              ORDER BY p.release_id LIMIT %(max_errors)s) e) AS errors,
    {planned}
