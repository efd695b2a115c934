"""The reversal service on real PostgreSQL: what it writes per lot, its scopes (exactly the
operation ids of a run, a day, or lots), once only, money already spent refused alone, a new
release day after today, and a lot released again after a reversal exactly once more."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from ledger.models import Account, AccountKind, LedgerEntry, LockStatus, Operation, OperationType, WalletLock
from ledger.services.accounts import ensure_system_account, ensure_wallet_accounts
from ledger.services.posting import Leg, OperationSpec, post_operations
from vaults.exceptions import InvalidRelease
from vaults.keys import release_idempotency_key, reversal_idempotency_key
from vaults.models import LotStatus, ReleaseRun, ReversalRun, RunStatus, VestingLot
from vaults.selectors.lock_audit import audit_avenir_locks
from vaults.selectors.lots import lot_release_history
from vaults.services.release import release_matured_lots, utc_today
from vaults.services.reversal import reverse_releases
from vaults.tests.factories import DepositFactory
from vaults.tests.support.database import assert_invariants

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]
REASON = "vesting period set to 1 day by mistake"


def released_lots(count: int, *, release_day=None) -> list[VestingLot]:
    """`count` lots released by one run whose as_of is their release day (default today)."""
    day = release_day or utc_today()
    deposits = [DepositFactory(release_day=day) for _ in range(count)]
    ids = [d.lot_id for d in deposits]
    release_matured_lots(currency="AED", as_of=day, lot_ids=ids, workers=1)
    return list(VestingLot.objects.filter(pk__in=ids).order_by("pk"))


def wallets(user_id: int) -> tuple[Decimal, Decimal]:
    balances = dict(Account.objects.filter(owner_id=user_id, currency="AED").values_list("kind", "balance"))
    return balances[AccountKind.WALLET_AVAILABLE], balances[AccountKind.WALLET_LOCKED]


def test_reversing_one_lot_writes_a_compensating_operation_a_lock_and_vests_the_lot_again(avenir):
    lot, other = released_lots(2)
    release_op = Operation.objects.get(pk=lot.last_release_operation_id)
    available_before, locked_before = wallets(lot.user_id)
    new_day = utc_today() + timedelta(days=30)

    summary = reverse_releases(lot_ids=[lot.pk], reason=REASON, release_day=new_day, actor="ops-anna")

    assert (summary.found, summary.reversed_count, summary.skipped_count, summary.errors_count) == (1, 1, 0, 0)
    assert summary.reversed_amount == Decimal("10000.00") and summary.exit_code == 0
    reversal = Operation.objects.get(type=OperationType.VAULT_VESTING_RELEASE_REVERSAL)
    assert reversal.idempotency_key == reversal_idempotency_key(release_op.pk)
    assert reversal.amount == release_op.amount and reversal.user_id == lot.user_id
    assert reversal.operation_metadata == {
        "trace_id": summary.trace_id,
        "lot_id": lot.pk,
        "reverses_operation_id": str(release_op.pk),
        "reversed_amount": "10000.00",
        "release_day": new_day.isoformat(),
        "reason": REASON,
        "actor": "ops-anna",
        "vault_code": "AVENIR",
    }
    legs = {e.account.kind: e.amount for e in LedgerEntry.objects.filter(operation=reversal).select_related("account")}
    assert legs == {AccountKind.WALLET_AVAILABLE: Decimal("-10000.00"), AccountKind.WALLET_LOCKED: Decimal("10000.00")}
    assert wallets(lot.user_id) == (available_before - Decimal("10000.00"), locked_before + Decimal("10000.00"))
    lock = WalletLock.objects.get(reversal_operation=reversal)
    assert (lock.status, lock.amount, lock.operation_id) == (
        LockStatus.ACTIVE,
        Decimal("10000.00"),
        lot.source_operation_id,
    )
    lot.refresh_from_db()
    assert (lot.status, lot.released_amount, lot.release_day, lot.reversal_count) == (
        LotStatus.VESTED,
        Decimal("0.00"),
        new_day,
        1,
    )
    # The release's own rows are untouched; the other lot too.
    assert Operation.objects.get(pk=release_op.pk).operation_metadata == release_op.operation_metadata
    assert VestingLot.objects.get(pk=other.pk).status == LotStatus.RELEASED
    run = ReversalRun.objects.get(pk=summary.run_id)
    assert (run.status, run.executed_count, run.executed_amount, run.reason, run.actor) == (
        RunStatus.SUCCEEDED,
        1,
        Decimal("10000.00"),
        REASON,
        "ops-anna",
    )
    assert [(h.release_id, h.reversal_id, h.reason) for h in lot_release_history(lot=lot)] == [
        (release_op.pk, reversal.pk, REASON)
    ]
    assert_invariants()
    assert audit_avenir_locks(currency="AED").consistent


def test_a_run_scope_reverses_that_runs_operations_and_nothing_else(avenir):
    first = released_lots(3)
    second = released_lots(2)  # the same day, another run
    run_id = release_run_of(first[0])

    summary = reverse_releases(run_id=run_id, reason=REASON, vesting_days=400)

    assert (summary.found, summary.reversed_count) == (3, 3)
    assert set(VestingLot.objects.filter(status=LotStatus.VESTED).values_list("pk", flat=True)) == {
        lot.pk for lot in first
    }
    assert all(VestingLot.objects.get(pk=lot.pk).status == LotStatus.RELEASED for lot in second)
    for lot in first:
        refreshed = VestingLot.objects.get(pk=lot.pk)
        assert refreshed.release_day == refreshed.deposit_day + timedelta(days=400)
    assert_invariants()


def test_a_day_scope_reverses_every_release_operation_of_that_as_of(avenir):
    today = utc_today()
    yesterday = released_lots(2, release_day=today - timedelta(days=1))
    todays = released_lots(2)

    summary = reverse_releases(as_of=today, reason=REASON, vesting_days=400)

    assert summary.reversed_count == 2
    assert {lot.pk for lot in todays} == set(
        VestingLot.objects.filter(status=LotStatus.VESTED).values_list("pk", flat=True)
    )
    assert all(VestingLot.objects.get(pk=lot.pk).status == LotStatus.RELEASED for lot in yesterday)


def test_a_replay_writes_nothing_and_counts_what_was_already_reversed(avenir):
    lots = released_lots(3)
    run_id = release_run_of(lots[0])
    reverse_releases(run_id=run_id, reason=REASON, vesting_days=400)
    operations = Operation.objects.count()

    again = reverse_releases(run_id=run_id, reason=REASON, vesting_days=400)

    assert (again.found, again.reversed_count, again.skipped_count, again.errors_count) == (3, 0, 3, 0)
    assert Operation.objects.count() == operations
    run = ReversalRun.objects.get(pk=again.run_id)
    assert (run.status, run.executed_count, run.skipped_count) == (RunStatus.SUCCEEDED, 0, 3)


def test_money_already_spent_is_refused_alone_and_no_balance_goes_negative(avenir):
    spender, saver = released_lots(2)
    # The spender's released money leaves the available wallet (a withdrawal): 1.00 stays.
    spend(spender.user_id, "9999.00")

    summary = reverse_releases(lot_ids=[spender.pk, saver.pk], reason=REASON, vesting_days=400)

    assert (summary.reversed_count, summary.errors_count) == (1, 1)
    (error,) = summary.errors
    assert (error.lot_id, error.code) == (spender.pk, "INSUFFICIENT_AVAILABLE_BALANCE")
    assert "the money was spent" in error.message
    assert VestingLot.objects.get(pk=spender.pk).status == LotStatus.RELEASED
    assert VestingLot.objects.get(pk=saver.pk).status == LotStatus.VESTED
    assert wallets(spender.user_id)[0] == Decimal("1.00")
    assert summary.exit_code == 1 and ReversalRun.objects.get().status == RunStatus.COMPLETED_WITH_ERRORS
    assert_invariants()


def test_a_new_release_day_that_is_not_after_today_is_refused(avenir):
    lot, old = released_lots(2)
    with pytest.raises(InvalidRelease, match="must be after today"):
        reverse_releases(lot_ids=[lot.pk], reason=REASON, release_day=utc_today())
    assert not Operation.objects.filter(type=OperationType.VAULT_VESTING_RELEASE_REVERSAL).exists()

    # With vesting days, only the lots whose deposit day + N is not after today are refused.
    VestingLot.objects.filter(pk=old.pk).update(deposit_day=utc_today() - timedelta(days=1000))
    summary = reverse_releases(lot_ids=[lot.pk, old.pk], reason=REASON, vesting_days=400)
    assert [(e.lot_id, e.code) for e in summary.errors] == [(old.pk, "RELEASE_DAY_NOT_AFTER_TODAY")]
    assert summary.reversed_count == 1 and VestingLot.objects.get(pk=lot.pk).status == LotStatus.VESTED
    assert VestingLot.objects.get(pk=old.pk).status == LotStatus.RELEASED


def test_released_again_after_a_reversal_exactly_once_more(avenir):
    (lot,) = released_lots(1)
    first_release = lot.last_release_operation_id
    reverse_releases(lot_ids=[lot.pk], reason=REASON, release_day=utc_today() + timedelta(days=1))
    # The new release day comes (moved here, rather than waited for).
    VestingLot.objects.filter(pk=lot.pk).update(release_day=utc_today())

    again = release_matured_lots(currency="AED", workers=1)
    replay = release_matured_lots(currency="AED", workers=1)

    assert (again.executed_count, replay.executed_count) == (1, 0)
    releases = Operation.objects.filter(type=OperationType.VAULT_VESTING_RELEASE, operation_metadata__lot_id=lot.pk)
    assert sorted(releases.values_list("idempotency_key", flat=True)) == [
        release_idempotency_key(lot.pk),
        release_idempotency_key(lot.pk, 1),
    ]
    assert Operation.objects.filter(type=OperationType.VAULT_VESTING_RELEASE_REVERSAL).count() == 1
    lot.refresh_from_db()
    assert lot.status == LotStatus.RELEASED and lot.last_release_operation_id != first_release
    history = lot_release_history(lot=lot)
    assert [(h.number, h.reversal_id is not None) for h in history] == [(1, True), (2, False)]
    assert_invariants()
    assert audit_avenir_locks(currency="AED").consistent


def test_only_released_lots_can_be_reversed(avenir):
    (released,) = released_lots(1)
    vested = DepositFactory(release_day=utc_today() + timedelta(days=3))
    summary = reverse_releases(lot_ids=[released.pk, vested.lot_id, 987654], reason=REASON, vesting_days=400)
    assert summary.reversed_count == 1
    assert sorted((r.lot_id, r.reason) for r in summary.refused) == [
        (vested.lot_id, "NOT_RELEASED"),
        (987654, "NOT_FOUND"),
    ]
    # A reversal is not a release: reversing the day again finds nothing new to reverse.
    again = reverse_releases(as_of=utc_today(), reason=REASON, vesting_days=400)
    assert (again.reversed_count, again.skipped_count) == (0, 1)


def test_a_dry_run_writes_nothing_and_plans_what_the_real_run_does(avenir):
    lots = released_lots(3)
    spend(lots[1].user_id, "9999.00")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM operations")
        before = cursor.fetchone()[0]

    dry = reverse_releases(run_id=release_run_of(lots[0]), reason=REASON, vesting_days=400, dry_run=True)

    assert (dry.reversed_count, dry.errors_count, dry.run_id) == (2, 1, None)
    assert {p.lot_id for p in dry.planned} == {lots[0].pk, lots[2].pk}
    assert Operation.objects.count() == before and not ReversalRun.objects.exists()
    real = reverse_releases(run_id=release_run_of(lots[0]), reason=REASON, vesting_days=400)
    assert (real.reversed_count, real.errors_count, real.reversed_amount) == (2, 1, dry.reversed_amount)


def release_run_of(lot: VestingLot) -> int:
    trace = Operation.objects.get(pk=lot.last_release_operation_id).operation_metadata["trace_id"]
    return ReleaseRun.objects.get(trace_id=trace).pk


def spend(user_id: int, amount: str) -> None:
    """The customer spends released money: it leaves the available wallet (to the system)."""
    wallet = ensure_wallet_accounts(user_id=user_id, currency="AED")
    outside = ensure_system_account(currency="AED")
    value = Decimal(amount)
    post_operations(
        specs=[
            OperationSpec(
                type=OperationType.ADJUSTMENT,
                user_id=user_id,
                currency="AED",
                amount=value,
                idempotency_key=f"spend-{user_id}-{amount}",
                legs=(Leg(wallet.available_id, -value), Leg(outside, value)),
            )
        ]
    )
