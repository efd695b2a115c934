"""A failing lot fails alone: recorded in `errors` with a code, the others are released."""

from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.models import OperationType
from ledger.services.accounts import ensure_wallet_accounts
from ledger.services.posting import Leg, OperationSpec, post_operations
from ledger.tests.factories import UserFactory
from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.selectors import check_invariants
from vaults.services.release import release_idempotency_key, release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory

pytestmark = pytest.mark.django_db(transaction=True)


def unlock(user, amount: str, key: str, op_type=OperationType.ADJUSTMENT) -> None:
    """Move money from the user's locked to available wallet outside the release job."""
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    a = Decimal(amount)
    post_operations(
        specs=[
            OperationSpec(
                type=op_type,
                user_id=user.pk,
                currency="AED",
                amount=a,
                idempotency_key=key,
                legs=(Leg(wallets.locked_id, -a), Leg(wallets.available_id, a)),
            )
        ]
    )


def test_insufficient_locked_balance_fails_one_lot_only(avenir):
    today = utc_today()
    ok_before, broken, ok_after = (DepositFactory(release_day=today) for _ in range(3))
    broken_user = VestingLot.objects.get(pk=broken.lot_id).user
    unlock(broken_user, "0.01", "manual-unlock")

    summary = release_matured_lots(currency="AED", chunk_size=10)

    assert (summary.executed_count, summary.errors_count, summary.exit_code) == (2, 1, 1)
    assert summary.errors[0].lot_id == broken.lot_id
    assert summary.errors[0].code == "INSUFFICIENT_LOCKED_BALANCE"
    assert summary.to_runbook_json()["summary"]["errors"][0]["code"] == "INSUFFICIENT_LOCKED_BALANCE"
    statuses = dict(VestingLot.objects.values_list("pk", "status"))
    assert statuses == {ok_before.lot_id: "RELEASED", broken.lot_id: "VESTED", ok_after.lot_id: "RELEASED"}
    run = ReleaseRun.objects.get()
    assert (run.status, run.exit_code, run.errors_count) == (RunStatus.COMPLETED_WITH_ERRORS, 1, 1)
    # The only inconsistency is the one the test made by hand.
    violations = check_invariants()
    assert [v.invariant for v in violations] == [3] and f"user {broken_user.pk} " in violations[0].detail


def test_database_refusal_of_one_lot_is_isolated_by_savepoints(avenir):
    """A release operation already exists for one lot (its lot update was lost): the
    unique idempotency key makes PostgreSQL refuse the chunk; the chunk is retried
    lot by lot and only that lot fails."""
    today = utc_today()
    user = UserFactory()
    dup = DepositFactory(user=user, release_day=today)
    DepositFactory(user=user, release_day=today + timedelta(days=30))  # keeps the locked balance sufficient
    others = [DepositFactory(release_day=today) for _ in range(3)]
    unlock(user, "10000.00", release_idempotency_key(dup.lot_id), OperationType.VAULT_VESTING_RELEASE)

    summary = release_matured_lots(currency="AED", chunk_size=100)

    assert (summary.executed_count, summary.errors_count) == (3, 1)
    assert (summary.errors[0].lot_id, summary.errors[0].code) == (dup.lot_id, "ALREADY_RELEASED")
    assert VestingLot.objects.get(pk=dup.lot_id).status == LotStatus.VESTED
    assert all(VestingLot.objects.get(pk=d.lot_id).status == LotStatus.RELEASED for d in others)
    # Still one release operation for the lot: a second one is impossible in the database.
    violations = check_invariants()
    assert [v.invariant for v in violations] == [3]
