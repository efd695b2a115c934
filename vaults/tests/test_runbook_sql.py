"""The runbook's SQL, run verbatim against our schema: only the date literal
'2025-01-27' and the trace id example are replaced by this run's values."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory

pytestmark = pytest.mark.django_db(transaction=True)

COUNT_RELEASES_FOR_DATE = """
SELECT 
    COUNT(*) as release_count,
    SUM((operation_metadata->>'release_amount')::numeric) as total_released
FROM operations
WHERE type = 'VAULT_VESTING_RELEASE'
  AND DATE(created_at) = '2025-01-27';
"""

LATEST_OPERATIONS = """
SELECT 
    id,
    created_at,
    operation_metadata->>'trace_id' as trace_id,
    operation_metadata->>'release_amount' as amount,
    operation_metadata->>'vault_code' as vault_code
FROM operations
WHERE type = 'VAULT_VESTING_RELEASE'
ORDER BY created_at DESC
LIMIT 10;
"""

RELEASED_LOTS = """
SELECT 
    COUNT(*) as released_lots_count,
    SUM(released_amount) as total_released
FROM vault_vesting_lots
WHERE status = 'RELEASED'
  AND DATE(last_released_at) = '2025-01-27';
"""

PENDING_BEFORE_REPLAY = """
SELECT 
    COUNT(*) as pending_lots,
    SUM(amount - released_amount) as pending_amount
FROM vault_vesting_lots
WHERE vault_code = 'AVENIR'
  AND release_day <= '2025-01-27'
  AND status = 'VESTED'
  AND released_amount < amount;
"""

BY_TRACE_ID = """
SELECT 
    id,
    created_at,
    operation_metadata->>'trace_id' as trace_id
FROM operations
WHERE type = 'VAULT_VESTING_RELEASE'
  AND operation_metadata->>'trace_id' = 'job-avenir-vesting-20250127-abc12345';
"""

NEXT_RUN = """
SELECT 
    release_day,
    COUNT(*) as lot_count,
    SUM(amount - released_amount) as total_remaining
FROM vault_vesting_lots
WHERE vault_code = 'AVENIR'
  AND status = 'VESTED'
GROUP BY release_day
ORDER BY release_day ASC
LIMIT 5;
"""


def run(sql: str, day=None, trace_id: str | None = None) -> list[tuple]:
    if day is not None:
        sql = sql.replace("'2025-01-27'", f"'{day.isoformat()}'")
    if trace_id is not None:
        sql = sql.replace("job-avenir-vesting-20250127-abc12345", trace_id)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_runbook_queries_give_the_expected_counts_and_sums(avenir):
    today = utc_today()
    for amount in ("10000.00", "2500.50"):
        DepositFactory(release_day=today, amount=Decimal(amount))
    DepositFactory(release_day=today + timedelta(days=2), amount=Decimal("700.00"))
    DepositFactory(release_day=today + timedelta(days=2), amount=Decimal("300.00"))

    assert run(PENDING_BEFORE_REPLAY, today) == [(2, Decimal("12500.50"))]
    summary = release_matured_lots(currency="AED", as_of=today)

    assert run(COUNT_RELEASES_FOR_DATE, today) == [(2, Decimal("12500.50"))]
    assert run(RELEASED_LOTS, today) == [(2, Decimal("12500.50"))]
    assert run(PENDING_BEFORE_REPLAY, today) == [(0, None)]
    latest = run(LATEST_OPERATIONS)
    assert len(latest) == 2
    assert {row[2] for row in latest} == {summary.trace_id} and {row[4] for row in latest} == {"AVENIR"}
    assert sorted(row[3] for row in latest) == ["10000.00", "2500.50"]
    assert len(run(BY_TRACE_ID, trace_id=summary.trace_id)) == 2
    assert run(BY_TRACE_ID) == []
    assert run(NEXT_RUN) == [(today + timedelta(days=2), 2, Decimal("1000.00"))]
