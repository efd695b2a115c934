"""Reversals at the same time as other reversals and as releases, in real threads with
their own PostgreSQL sessions: every lot ends consistent, each release reversed once."""

import time

import pytest
from django.db.models import Count

from ledger.models import Operation, OperationType
from vaults.models import LotStatus, ReleaseRun, VestingLot
from vaults.selectors.lock_audit import audit_avenir_locks
from vaults.services.release import release_matured_lots, utc_today
from vaults.services.reversal import reverse_releases
from vaults.tests.factories import DepositFactory
from vaults.tests.support.concurrency import in_thread, run_together
from vaults.tests.support.database import assert_invariants

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]
REASON = "released on the wrong day"


def reversals_per_release() -> dict[str, int]:
    return dict(
        Operation.objects.filter(type=OperationType.VAULT_VESTING_RELEASE_REVERSAL)
        .values_list("operation_metadata__reverses_operation_id")
        .annotate(n=Count("id"))
        .values_list("operation_metadata__reverses_operation_id", "n")
    )


def test_four_concurrent_reversals_of_one_run_reverse_each_lot_once(avenir):
    for _ in range(12):
        DepositFactory(release_day=utc_today())
    run_id = release_matured_lots(currency="AED", workers=1).run_id

    summaries = run_together(
        [
            lambda: reverse_releases(run_id=run_id, reason=REASON, vesting_days=400, chunk_size=2, workers=1)
            for _ in range(4)
        ]
    )

    assert sum(s.reversed_count for s in summaries) == 12
    assert all(s.errors_count == 0 for s in summaries)
    counts = reversals_per_release()
    assert len(counts) == 12 and set(counts.values()) == {1}
    assert VestingLot.objects.filter(status=LotStatus.VESTED, reversal_count=1).count() == 12
    assert_invariants()
    assert audit_avenir_locks(currency="AED").consistent


def test_a_reversal_racing_the_release_of_the_same_lots_leaves_every_lot_consistent(avenir):
    """A release walks today's lots chunk by chunk while reversals of today keep taking back
    whatever it has released so far: each lot is released once and reversed once, and the
    ledger, the locks and the lots agree at the end."""
    lots = [DepositFactory(release_day=utc_today()).lot_id for _ in range(30)]
    releasing, out = in_thread(lambda: release_matured_lots(currency="AED", chunk_size=3, workers=1))
    reversed_total = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = reverse_releases(as_of=utc_today(), reason=REASON, vesting_days=400, chunk_size=4, workers=1)
        reversed_total += done.reversed_count
        if not releasing.is_alive() and reversed_total == 30:
            break
    releasing.join(timeout=60)

    assert "error" not in out, out.get("error")
    assert out["result"].executed_count == 30 and reversed_total == 30
    assert set(VestingLot.objects.filter(pk__in=lots).values_list("status", "reversal_count")) == {
        (LotStatus.VESTED, 1)
    }
    releases = Operation.objects.filter(type=OperationType.VAULT_VESTING_RELEASE)
    assert releases.count() == 30 and set(reversals_per_release().values()) == {1}
    assert ReleaseRun.objects.get().executed_count == 30
    assert_invariants()
    assert audit_avenir_locks(currency="AED").consistent
