"""Concurrent runs never release a lot twice (real threads, each with its own PostgreSQL connection)."""

from datetime import timedelta
from decimal import Decimal
from functools import partial

import pytest

from ledger.models import Operation, OperationType
from vaults.models import LotStatus, ReleaseRun, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.support.concurrency import run_together
from vaults.tests.support.database import assert_invariants, seed_matured

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]


def run_in_threads(calls: list[dict]) -> list:
    """release_matured_lots(currency="AED", **kwargs) for every kwargs, all started at the same moment."""
    return run_together([partial(release_matured_lots, currency="AED", **kwargs) for kwargs in calls])


def test_four_parallel_runs_release_each_lot_exactly_once(avenir):
    """Four runs with overlapping selections (different as_of, so each has its own
    run lease) race over small chunks with SKIP LOCKED."""
    today = utc_today()
    seed_matured(today, users=60, lots_per_user=5, spread_days=4)  # 300 lots over 4 release days
    total = VestingLot.objects.count()

    summaries = run_in_threads([{"as_of": today - timedelta(days=d), "chunk_size": 7} for d in range(4)])

    assert sum(s.executed_count for s in summaries) == total == 300
    assert sum(s.executed_amount for s in summaries) == Decimal("10000.00") * total
    assert all(s.errors_count == 0 and not s.already_running for s in summaries)
    assert not VestingLot.objects.filter(status=LotStatus.VESTED).exists()
    releases = Operation.objects.filter(type=OperationType.VAULT_VESTING_RELEASE)
    assert releases.count() == total
    assert releases.values("operation_metadata__lot_id").distinct().count() == total
    assert ReleaseRun.objects.filter(status="SUCCEEDED").count() == 4
    assert_invariants()


def test_parallel_runs_for_the_same_day_release_each_lot_once(avenir):
    today = utc_today()
    seed_matured(today, users=200, lots_per_user=5, spread_days=1)

    summaries = run_in_threads([{"as_of": today, "chunk_size": 5} for _ in range(4)])

    real = [s for s in summaries if not s.already_running]
    assert sum(s.executed_count for s in summaries) == 1000
    assert all(s.executed_count == 0 and s.run_id is None for s in summaries if s.already_running)
    assert ReleaseRun.objects.count() == len(real)
    assert_invariants()
