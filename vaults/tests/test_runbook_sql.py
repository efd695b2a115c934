"""The runbook's SQL, run verbatim against our schema: only the date literal
'2025-01-27' and the trace id example are replaced by this run's values."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from vaults.services.release import release_matured_lots, utc_today
from vaults.services.reversal import reverse_releases
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


# Beside the runbook's counts, in README.md ("Undoing a release"): releases net of reversals.
RELEASED_NET_OF_REVERSALS = """
SELECT COUNT(*) AS release_count,
       SUM((o.operation_metadata->>'release_amount')::numeric) AS total_released
FROM operations o
WHERE o.type = 'VAULT_VESTING_RELEASE' AND o.currency = 'AED'
  AND o.operation_metadata->>'as_of' = '2025-01-27'
  AND NOT EXISTS (SELECT 1 FROM operations r
                  WHERE r.idempotency_key = 'avenir-vesting-release-reversal:' || o.id);
"""

REVERSALS_OF_DAY = """
SELECT COUNT(*) AS reversal_count, SUM(r.amount) AS total_reversed
FROM operations o
JOIN operations r ON r.idempotency_key = 'avenir-vesting-release-reversal:' || o.id
WHERE o.type = 'VAULT_VESTING_RELEASE' AND o.currency = 'AED'
  AND o.operation_metadata->>'as_of' = '2025-01-27';
"""


def test_the_documented_queries_net_out_reversals(avenir):
    today = utc_today()
    deposits = [DepositFactory(release_day=today, amount=Decimal(a)) for a in ("10000.00", "2500.50", "99.50")]
    release_matured_lots(currency="AED", as_of=today)
    reverse_releases(lot_ids=[deposits[1].lot_id], reason="wrong day", vesting_days=400)

    assert run(COUNT_RELEASES_FOR_DATE, today) == [(3, Decimal("12600.00"))]  # the runbook's: releases made
    assert run(RELEASED_NET_OF_REVERSALS, today) == [(2, Decimal("10099.50"))]
    assert run(REVERSALS_OF_DAY, today) == [(1, Decimal("2500.50"))]
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    assert RELEASED_NET_OF_REVERSALS.strip() in readme and REVERSALS_OF_DAY.strip() in readme
