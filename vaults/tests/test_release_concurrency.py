"""Concurrent runs never release a lot twice (real threads, each with its own PostgreSQL connection)."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections

from ledger.models import Operation, OperationType
from vaults.models import LotStatus, ReleaseRun, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.helpers import assert_invariants, seed_matured

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]


def run_in_threads(calls):
    """Start every call at the same moment; return their results (or raise their error)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i, kwargs):
        try:
            barrier.wait(timeout=30)
            results[i] = release_matured_lots(currency="AED", **kwargs)
        except BaseException as exc:  # surfaced below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, kw)) for i, kw in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a run did not finish"
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


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
