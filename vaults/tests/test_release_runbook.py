"""The runbook's scenarios against the release service, on PostgreSQL."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from ledger.models import Account, AccountKind, LockStatus, Operation, OperationType, WalletLock
from vaults.exceptions import FutureAsOf, VaultNotFound
from vaults.models import LotStatus, ReleaseRun, ReleaseTrigger, RunStatus, VestingLot
from vaults.services.release import release_matured_lots
from vaults.tests.factories import DepositFactory
from vaults.tests.support.database import assert_invariants, database_fingerprint

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]

TRACE_ID = re.compile(r"^job-avenir-vesting-\d{8}-[0-9a-f]{8}$")


def test_real_run_releases_matured_lots_and_closes_their_locks(avenir, today):
    matured = [DepositFactory(release_day=today - timedelta(days=d)) for d in (0, 0, 3)]
    future = DepositFactory(release_day=today + timedelta(days=1))

    summary = release_matured_lots(currency="AED", as_of=today, trigger=ReleaseTrigger.CLI, actor="test")

    doc = summary.to_runbook_json()
    assert doc["summary"]["matured_found"] == 3
    assert doc["summary"]["executed_count"] == 3
    assert doc["summary"]["executed_amount"] == "30000.00"
    assert doc["summary"]["errors_count"] == 0 and doc["exit_code"] == 0
    assert doc["summary"]["locks_closed_count"] == 3 and doc["summary"]["locks_missing_count"] == 0
    for deposit in matured:
        lot = VestingLot.objects.get(pk=deposit.lot_id)
        assert lot.status == LotStatus.RELEASED and lot.released_amount == lot.amount
        release = lot.last_release_operation
        assert release.type == OperationType.VAULT_VESTING_RELEASE
        assert release.operation_metadata == {
            "trace_id": summary.trace_id,
            "release_amount": "10000.00",
            "vault_code": "AVENIR",
            "lot_id": lot.pk,
            "as_of": today.isoformat(),
        }
        lock = WalletLock.objects.get(pk=deposit.lock_id)
        assert lock.status == LockStatus.RELEASED and lock.release_operation_id == release.pk
        available = Account.objects.get(owner=lot.user, kind=AccountKind.WALLET_AVAILABLE)
        assert available.balance == Decimal("10000.00")
    assert VestingLot.objects.get(pk=future.lot_id).status == LotStatus.VESTED
    assert WalletLock.objects.get(pk=future.lock_id).status == LockStatus.ACTIVE
    run = ReleaseRun.objects.get(trace_id=summary.trace_id)
    assert (run.status, run.exit_code, run.executed_count, run.trigger) == (RunStatus.SUCCEEDED, 0, 3, "cli")
    assert run.summary == doc and run.finished_at >= run.started_at
    assert_invariants()


def test_dry_run_changes_no_row_in_any_table(avenir, today):
    for d in (0, 1, 2):
        DepositFactory(release_day=today - timedelta(days=d))
    before = database_fingerprint()

    summary = release_matured_lots(currency="AED", as_of=today, dry_run=True)

    assert database_fingerprint() == before  # invariant 5: not even a run row
    assert summary.dry_run and summary.run_id is None
    assert (summary.matured_found, summary.executed_count, summary.executed_amount) == (3, 3, Decimal("30000.00"))
    assert summary.locks_closed_count == 3
    # And it reports exactly what the real run then does.
    real = release_matured_lots(currency="AED", as_of=today)
    assert (real.executed_count, real.executed_amount, real.locks_closed_count) == (3, Decimal("30000.00"), 3)
    assert_invariants()


def test_dry_run_runs_in_a_read_only_transaction(avenir, today):
    """PostgreSQL itself refuses writes inside the dry run's transaction."""
    from django.db import InternalError

    from common.db import read_only_transaction

    with (
        pytest.raises(InternalError, match="read-only transaction"),
        read_only_transaction(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM vaults")


def test_replay_of_a_released_day_skips_everything(avenir, today):
    for _ in range(2):
        DepositFactory(release_day=today)
    first = release_matured_lots(currency="AED", as_of=today)
    ops_after_first = Operation.objects.count()

    replay = release_matured_lots(currency="AED", as_of=today)

    assert first.executed_count == 2
    assert (replay.executed_count, replay.skipped_count, replay.exit_code) == (0, 2, 0)
    assert replay.trace_id != first.trace_id
    assert Operation.objects.count() == ops_after_first  # no double ledger entries
    assert ReleaseRun.objects.count() == 2
    assert_invariants()


def test_past_date_replay_and_catch_up_of_missed_days(avenir, today):
    d3, d2, d1 = (today - timedelta(days=n) for n in (3, 2, 1))
    lots = {day: DepositFactory(release_day=day) for day in (d3, d2, d1)}

    # Replaying a past date only releases what had matured by then.
    past = release_matured_lots(currency="AED", as_of=d3)
    assert past.executed_count == 1
    assert VestingLot.objects.get(pk=lots[d3].lot_id).status == LotStatus.RELEASED
    assert VestingLot.objects.get(pk=lots[d2].lot_id).status == LotStatus.VESTED

    # Days d2 and d1 were missed: today's run catches them up (release_day <= as_of).
    catch_up = release_matured_lots(currency="AED", as_of=today)
    assert catch_up.executed_count == 2
    assert catch_up.skipped_count == 0  # nothing of *today* was released before
    assert set(VestingLot.objects.values_list("status", flat=True)) == {LotStatus.RELEASED}
    assert_invariants()


def test_trace_id_format_and_lookup_in_operation_metadata(avenir, today):
    DepositFactory(release_day=today)
    summary = release_matured_lots(currency="AED", as_of=today - timedelta(days=0))
    assert TRACE_ID.match(summary.trace_id)
    assert summary.trace_id.startswith(f"job-avenir-vesting-{today:%Y%m%d}-")
    doc = summary.to_runbook_json()
    assert doc["trace_id"] == doc["summary"]["trace_id"] == summary.trace_id
    assert doc["summary"]["as_of_date"] == doc["as_of"] == today.isoformat()
    found = Operation.objects.filter(
        type=OperationType.VAULT_VESTING_RELEASE, operation_metadata__trace_id=summary.trace_id
    )
    assert found.count() == 1
    assert ReleaseRun.objects.filter(trace_id=summary.trace_id).exists()


def test_future_as_of_is_refused_and_writes_nothing(avenir, today):
    DepositFactory(release_day=today + timedelta(days=1))
    before = database_fingerprint()
    with pytest.raises(FutureAsOf):
        release_matured_lots(currency="AED", as_of=today + timedelta(days=1))
    assert database_fingerprint() == before


@pytest.mark.parametrize("currency", ["XYZ", "EUR"])  # unknown currency; known currency without an AVENIR vault
def test_unknown_currency_or_vault_is_refused(avenir, currency):
    from ledger.exceptions import UnknownCurrency

    with pytest.raises((UnknownCurrency, VaultNotFound)):
        release_matured_lots(currency=currency)
    assert not ReleaseRun.objects.exists()


def test_explicit_lot_selection_refuses_unmatured_and_unknown_lots(avenir, today):
    matured = DepositFactory(release_day=today)
    other = DepositFactory(release_day=today)
    unmatured = DepositFactory(release_day=today + timedelta(days=5))

    summary = release_matured_lots(
        currency="AED", lot_ids=[matured.lot_id, unmatured.lot_id, 999999999], trigger=ReleaseTrigger.ADMIN
    )

    assert summary.executed_count == 1
    assert {(r.lot_id, r.reason) for r in summary.refused} == {
        (unmatured.lot_id, "NOT_MATURED"),
        (999999999, "NOT_FOUND"),
    }
    assert VestingLot.objects.get(pk=unmatured.lot_id).status == LotStatus.VESTED
    assert VestingLot.objects.get(pk=other.lot_id).status == LotStatus.VESTED  # not selected
    assert ReleaseRun.objects.get().selected_lots_count == 3
    assert_invariants()


def test_chunking_gives_the_same_result_as_one_chunk(avenir, today):
    for i in range(7):
        DepositFactory(release_day=today - timedelta(days=i % 3))
    summary = release_matured_lots(currency="AED", as_of=today, chunk_size=2)
    assert (summary.executed_count, summary.locks_closed_count) == (7, 7)
    assert not VestingLot.objects.filter(status=LotStatus.VESTED).exists()
    assert_invariants()


def test_progress_is_reported_per_chunk(avenir, today):
    for _ in range(5):
        DepositFactory(release_day=today)
    calls = []
    # One connection: chunks then commit in key order (two writers may finish them in either order).
    release_matured_lots(
        currency="AED", chunk_size=2, workers=1, on_progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(2, 5), (4, 5), (5, 5)]
