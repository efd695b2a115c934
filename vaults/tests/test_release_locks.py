"""The lock-link audit's cases: how the release finds and closes a lot's wallet lock."""

from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.models import LockStatus, WalletLock
from ledger.tests.factories import UserFactory
from vaults.models import LotStatus, VestingLot
from vaults.services.release import release_matured_lots
from vaults.tests.factories import DepositFactory
from vaults.tests.support.database import assert_invariants

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]


def test_lock_found_by_operation_id(avenir, today):
    deposit = DepositFactory(release_day=today)
    summary = release_matured_lots(currency="AED")
    assert (summary.locks_closed_count, summary.locks_matched_by_fallback, summary.locks_missing_count) == (1, 0, 0)
    lock = WalletLock.objects.get(pk=deposit.lock_id)
    lot = VestingLot.objects.get(pk=deposit.lot_id)
    assert lock.operation_id == lot.source_operation_id
    assert lock.status == LockStatus.RELEASED and lock.release_operation_id == lot.last_release_operation_id
    assert lock.released_at == lot.last_released_at
    assert_invariants()


def test_single_fallback_match_closes_the_legacy_lock(avenir, today):
    deposit = DepositFactory(release_day=today)
    WalletLock.objects.filter(pk=deposit.lock_id).update(operation=None)  # a legacy lock without operation_id

    summary = release_matured_lots(currency="AED")

    assert (summary.locks_closed_count, summary.locks_matched_by_fallback, summary.locks_missing_count) == (1, 1, 0)
    assert WalletLock.objects.get(pk=deposit.lock_id).status == LockStatus.RELEASED
    assert_invariants()


def test_several_fallback_matches_close_the_oldest_first(avenir, today):
    user = UserFactory()
    older = DepositFactory(user=user, release_day=today + timedelta(days=0), seconds=0)
    newer = DepositFactory(user=user, release_day=today, seconds=60)
    WalletLock.objects.filter(pk__in=[older.lock_id, newer.lock_id]).update(operation=None)

    # Only the newer lot is released: both legacy locks match; FIFO takes the older one.
    summary = release_matured_lots(currency="AED", lot_ids=[newer.lot_id])

    assert (summary.executed_count, summary.locks_matched_by_fallback) == (1, 1)
    assert WalletLock.objects.get(pk=older.lock_id).status == LockStatus.RELEASED
    assert WalletLock.objects.get(pk=newer.lock_id).status == LockStatus.ACTIVE
    assert_invariants()  # the amounts are the same, so every sum still agrees


def test_fallback_never_takes_a_lock_linked_to_another_pending_lot(avenir, today):
    user = UserFactory()
    linked = DepositFactory(user=user, release_day=today)
    orphan = DepositFactory(user=user, release_day=today, seconds=30)
    WalletLock.objects.filter(pk=orphan.lock_id).delete()

    summary = release_matured_lots(currency="AED", lot_ids=[orphan.lot_id])

    assert (summary.executed_count, summary.locks_missing_count, summary.locks_closed_count) == (1, 1, 0)
    assert WalletLock.objects.get(pk=linked.lock_id).status == LockStatus.ACTIVE


def test_missing_lock_is_counted_and_the_release_still_happens(avenir, today):
    deposit = DepositFactory(release_day=today)
    WalletLock.objects.filter(pk=deposit.lock_id).delete()

    summary = release_matured_lots(currency="AED")

    assert (summary.executed_count, summary.locks_missing_count, summary.locks_closed_count) == (1, 1, 0)
    assert summary.exit_code == 0  # the ledger prevails
    assert VestingLot.objects.get(pk=deposit.lot_id).status == LotStatus.RELEASED
    assert_invariants()


def test_partial_release_splits_a_larger_lock(avenir, today):
    """One legacy lock covers two deposits: releasing the first splits it, the
    remainder is then closed by the second lot through the fallback."""
    user = UserFactory()
    first = DepositFactory(user=user, release_day=today, amount=Decimal("10000.00"))
    second = DepositFactory(user=user, release_day=today + timedelta(days=0), amount=Decimal("5000.00"), seconds=5)
    WalletLock.objects.filter(pk=first.lock_id).update(amount=Decimal("15000.00"))
    WalletLock.objects.filter(pk=second.lock_id).delete()
    assert_invariants()  # consistent before: locked 15000 = locks 15000 = lots 15000

    summary = release_matured_lots(currency="AED", lot_ids=[first.lot_id])

    assert (summary.locks_closed_count, summary.locks_split_count) == (1, 1)
    closed = WalletLock.objects.get(pk=first.lock_id)
    remainder = WalletLock.objects.get(split_from=closed)
    assert (closed.status, closed.amount) == (LockStatus.RELEASED, Decimal("10000.00"))
    assert (remainder.status, remainder.amount) == (LockStatus.ACTIVE, Decimal("5000.00"))
    assert remainder.operation_id == closed.operation_id and remainder.created_at == closed.created_at
    assert_invariants()

    later = release_matured_lots(currency="AED", lot_ids=[second.lot_id])

    assert (later.locks_closed_count, later.locks_matched_by_fallback) == (1, 1)
    assert WalletLock.objects.get(pk=remainder.pk).status == LockStatus.RELEASED
    assert not WalletLock.objects.filter(status=LockStatus.ACTIVE).exists()
    assert_invariants()


def test_a_split_remainder_is_not_a_stale_lock_for_the_audit_or_the_repair(avenir, today):
    """After a partial release, the ACTIVE remainder keeps the released lot's operation_id
    but covers another pending lot: it must not be reported as repairable, nor closed."""
    from vaults.selectors import lock_audit as audit
    from vaults.services.repair import close_locks_of_released_lots

    user = UserFactory()
    first = DepositFactory(user=user, release_day=today, amount=Decimal("10000.00"))
    second = DepositFactory(user=user, release_day=today, amount=Decimal("5000.00"), seconds=5)
    WalletLock.objects.filter(pk=first.lock_id).update(amount=Decimal("15000.00"))
    WalletLock.objects.filter(pk=second.lock_id).delete()
    release_matured_lots(currency="AED", lot_ids=[first.lot_id])
    remainder = WalletLock.objects.get(split_from_id=first.lock_id)

    report = audit.audit_avenir_locks()
    assert report.group(audit.RELEASED_LOT_ACTIVE_LOCK).count == 0
    assert [f.lot_id for f in report.group(audit.FALLBACK_ONLY_LINK).findings] == [second.lot_id]
    result = close_locks_of_released_lots(lock_ids=[remainder.pk], actor="test")
    assert [(r.lock_id, r.reason) for r in result.refused] == [(remainder.pk, "SPLIT_REMAINDER")]
    assert WalletLock.objects.get(pk=remainder.pk).status == LockStatus.ACTIVE


def test_a_dry_run_lists_the_lock_each_lot_would_close(avenir, today):
    """The admin's confirmation page shows this plan instead of looking the locks up again."""
    direct, legacy, lost = (DepositFactory(release_day=today) for _ in range(3))
    WalletLock.objects.filter(pk=legacy.lock_id).update(operation=None)  # found by the fallback
    WalletLock.objects.filter(pk=lost.lock_id).update(status=LockStatus.RELEASED, released_at="2025-01-27T00:00Z")
    released_already = DepositFactory(release_day=today)
    release_matured_lots(currency="AED", lot_ids=[released_already.lot_id])
    selection = [direct.lot_id, legacy.lot_id, lost.lot_id, released_already.lot_id]

    summary = release_matured_lots(currency="AED", lot_ids=selection, dry_run=True)

    assert {(p.lot_id, p.lock_id, p.via) for p in summary.planned} == {
        (direct.lot_id, direct.lock_id, "direct"),
        (legacy.lot_id, legacy.lock_id, "fallback"),
        (lost.lot_id, None, "missing"),
    }
    assert "planned" not in summary.to_runbook_json()["summary"]  # the runbook's JSON is unchanged
    real = release_matured_lots(currency="AED", lot_ids=selection)
    assert real.planned == () and real.locks_matched_by_fallback == 1 and real.locks_missing_count == 1
