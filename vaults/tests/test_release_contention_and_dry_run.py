"""A lot another transaction holds is waited for, not left behind; a lot with nothing left
to release is skipped, not an error; a dry run reports exactly what the real run then does."""

import threading
import time
from decimal import Decimal

import pytest

from ledger.models import OperationType, WalletLock
from ledger.tests.factories import UserFactory
from vaults.models import LotStatus, VestingLot
from vaults.services.release import release_idempotency_key, release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.database import other_session
from vaults.tests.support.ledger import unlock

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_lot_held_by_another_transaction_is_waited_for_not_left_behind(avenir):
    today = utc_today()
    deposits = [DepositFactory(release_day=today) for _ in range(4)]
    held = deposits[1].lot_id
    locked, done = threading.Event(), threading.Event()

    def hold_row():
        with other_session() as other:  # a transaction of another process
            other.execute("SELECT id FROM vault_vesting_lots WHERE id = %s FOR UPDATE", [held])
            locked.set()
            time.sleep(1.5)
            other.rollback()  # it released nothing
        done.set()

    thread = threading.Thread(target=hold_row)
    thread.start()
    assert locked.wait(10)

    summary = release_matured_lots(currency="AED", chunk_size=2)
    thread.join(10)

    assert done.is_set()
    assert (summary.executed_count, summary.errors_count, summary.exit_code) == (4, 0, 0)
    assert VestingLot.objects.get(pk=held).status == LotStatus.RELEASED


def test_a_vested_lot_with_nothing_left_to_release_is_skipped_not_an_error(avenir):
    today = utc_today()
    done_lot = DepositFactory(release_day=today)
    other = DepositFactory(release_day=today)
    VestingLot.objects.filter(pk=done_lot.lot_id).update(released_amount=Decimal("10000.00"))

    summary = release_matured_lots(currency="AED")

    assert (summary.executed_count, summary.skipped_count, summary.errors_count) == (1, 1, 0)
    assert summary.matured_found == 1
    assert VestingLot.objects.get(pk=other.lot_id).status == LotStatus.RELEASED


def test_dry_run_does_not_promise_one_legacy_lock_to_two_lots(avenir):
    today = utc_today()
    user = UserFactory()
    first = DepositFactory(user=user, release_day=today)
    second = DepositFactory(user=user, release_day=today, seconds=30)
    WalletLock.objects.filter(pk=first.lock_id).update(operation=None)
    WalletLock.objects.filter(pk=second.lock_id).delete()

    dry = release_matured_lots(currency="AED", dry_run=True, chunk_size=1)
    real = release_matured_lots(currency="AED", chunk_size=1)

    counts = ("executed_count", "locks_closed_count", "locks_matched_by_fallback", "locks_missing_count")
    assert [getattr(dry, c) for c in counts] == [getattr(real, c) for c in counts] == [2, 1, 1, 1]


def test_dry_run_reports_an_existing_release_operation_like_the_real_run(avenir):
    today = utc_today()
    user = UserFactory()
    dup = DepositFactory(user=user, release_day=today)
    DepositFactory(user=user, release_day=today.replace(year=today.year + 1))  # keeps the locked balance
    DepositFactory(release_day=today)
    unlock(user, "10000.00", release_idempotency_key(dup.lot_id), OperationType.VAULT_VESTING_RELEASE)

    dry = release_matured_lots(currency="AED", dry_run=True)
    real = release_matured_lots(currency="AED")

    for summary in (dry, real):
        assert (summary.executed_count, summary.errors_count) == (1, 1)
        assert (summary.errors[0].lot_id, summary.errors[0].code) == (dup.lot_id, "ALREADY_RELEASED")
