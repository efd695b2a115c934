"""A failing lot fails alone: recorded in `errors` with a code, the others are released."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from ledger.models import OperationType
from ledger.tests.factories import UserFactory
from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.services.release import release_idempotency_key, release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.ledger import unlock
from vaults.verification import verify_ledger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]


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
    result = verify_ledger()
    assert [check.name for check in result.failed] == ["locked_balances_match_locks"]
    assert [e.values["owner_id"] for e in result.check("locked_balances_match_locks").examples] == [broken_user.pk]


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
    assert [check.name for check in verify_ledger().failed] == ["locked_balances_match_locks"]


def test_a_lot_postgresql_refuses_fails_alone_after_a_lot_by_lot_retry(avenir):
    """The plan cannot foresee every refusal (here a trigger standing for any constraint):
    the chunk's statement fails, its range is retried lot by lot, and only that lot fails."""
    today = utc_today()
    deposits = [DepositFactory(release_day=today) for _ in range(4)]
    refused = deposits[2].lot_id
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_one_lot() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.id = {refused} THEN RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END IF; "
            "RETURN NEW; END $$; CREATE TRIGGER refuse_one_lot BEFORE UPDATE ON vault_vesting_lots "
            "FOR EACH ROW EXECUTE FUNCTION refuse_one_lot()"
        )
    try:
        summary = release_matured_lots(currency="AED", chunk_size=10)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_one_lot ON vault_vesting_lots; DROP FUNCTION refuse_one_lot()")

    assert (summary.executed_count, summary.errors_count) == (3, 1)
    assert (summary.errors[0].lot_id, summary.errors[0].code) == (refused, "DATABASE_ERROR")
    statuses = dict(VestingLot.objects.values_list("pk", "status"))
    assert [statuses[d.lot_id] for d in deposits] == ["RELEASED", "RELEASED", "VESTED", "RELEASED"]
    run = ReleaseRun.objects.get()
    assert (run.executed_count, run.errors_count) == (3, 1)  # the row counts the retried lots too
    assert verify_ledger().ok


@pytest.mark.parametrize("chunk_size", [1, 10])
def test_a_shortfall_stops_the_owner_s_later_lots_and_the_dry_run_says_so(avenir, chunk_size):
    """The locked balance covers lots in maturity order: once one is not covered, the
    owner's later lots in the run are not either, whatever the chunking. Other users'
    lots are released. The dry run reports exactly what a one-connection run then does
    (with several, a user's lots in two chunks may be tried in either order)."""
    today = utc_today()
    user = UserFactory()
    first = DepositFactory(user=user, release_day=today - timedelta(days=1), amount=Decimal("100.00"))
    second = DepositFactory(user=user, release_day=today, amount=Decimal("30.00"))
    other = DepositFactory(release_day=today)
    unlock(user, "60.00", "manual-unlock")  # locked 70.00: covers neither 100.00 nor 100.00 + 30.00

    dry = release_matured_lots(currency="AED", dry_run=True, chunk_size=chunk_size)
    real = release_matured_lots(currency="AED", chunk_size=chunk_size, workers=1)

    for summary in (dry, real):
        assert (summary.executed_count, summary.errors_count) == (1, 2)
        assert [(e.lot_id, e.code) for e in summary.errors] == [
            (first.lot_id, "INSUFFICIENT_LOCKED_BALANCE"),
            (second.lot_id, "INSUFFICIENT_LOCKED_BALANCE"),
        ]
    assert VestingLot.objects.get(pk=other.lot_id).status == LotStatus.RELEASED
    assert VestingLot.objects.filter(user=user, status=LotStatus.VESTED).count() == 2


def test_a_user_without_wallets_fails_with_account_missing(avenir):
    today = utc_today()
    orphan = DepositFactory(release_day=today)
    fine = DepositFactory(release_day=today)
    user_id = VestingLot.objects.get(pk=orphan.lot_id).user_id
    with connection.cursor() as cursor:  # as if the wallet had never been created
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(
            "UPDATE ledger_accounts SET kind = 'SYSTEM_FUNDING', owner_id = NULL, currency = 'XXX', balance = 0 "
            "WHERE owner_id = %s AND kind = 'WALLET_AVAILABLE'",
            [user_id],
        )

    for dry_run in (True, False):
        summary = release_matured_lots(currency="AED", dry_run=dry_run)
        assert (summary.executed_count, summary.errors_count) == (1, 1)
        assert (summary.errors[0].lot_id, summary.errors[0].code) == (orphan.lot_id, "ACCOUNT_MISSING")
    assert VestingLot.objects.get(pk=fine.lot_id).status == LotStatus.RELEASED
