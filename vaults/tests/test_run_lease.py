"""The run lease: the RUNNING run row, one per (vault, currency, as_of), renewed by every
chunk, taken over when its heartbeat is too old. Plain statements on a table, so the
same tests also run through PgBouncer in transaction pooling mode."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.services.release.runs import LeaseLost
from vaults.tests.factories import DepositFactory, ReleaseRunFactory
from vaults.tests.support.concurrency import in_thread, wait_for
from vaults.tests.support.database import assert_invariants, other_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]


def released() -> int:
    return VestingLot.objects.filter(status=LotStatus.RELEASED).count()


def test_a_live_run_holds_the_lease_and_a_second_run_returns_already_running_at_once(avenir):
    today = utc_today()
    DepositFactory.create_batch(3, release_day=today)
    live = ReleaseRunFactory(as_of=today)

    blocked = release_matured_lots(currency="AED", as_of=today)
    dry = release_matured_lots(currency="AED", as_of=today, dry_run=True)  # read-only: no lease needed

    assert blocked.already_running and blocked.executed_count == 0 and blocked.run_id is None
    assert blocked.to_runbook_json()["already_running"] is True
    assert list(ReleaseRun.objects.values_list("pk", flat=True)) == [live.pk] and released() == 0
    assert ReleaseRun.objects.get(pk=live.pk).status == RunStatus.RUNNING  # a live run is never taken over
    assert dry.executed_count == 3 and not dry.already_running

    ReleaseRun.objects.filter(pk=live.pk).update(status=RunStatus.SUCCEEDED)  # it finished
    after = release_matured_lots(currency="AED", as_of=today)
    assert after.executed_count == 3 and not after.already_running


def test_the_database_refuses_a_second_running_row_for_the_same_day(avenir):
    ReleaseRunFactory()
    with pytest.raises(IntegrityError, match="release_run_lease"), transaction.atomic():
        ReleaseRunFactory()
    ReleaseRunFactory(as_of=utc_today() - timedelta(days=1))  # another day has its own lease


def test_a_dead_run_is_abandoned_with_its_reason_and_its_counts_and_the_rest_released(avenir, settings):
    today = utc_today()
    DepositFactory.create_batch(2, release_day=today)
    stale = datetime.now(UTC) - timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS + 60)
    dead = ReleaseRunFactory(
        as_of=today, started_at=stale, heartbeat_at=stale, executed_count=7, executed_amount=Decimal("70000.00")
    )
    older_day = ReleaseRunFactory(as_of=today - timedelta(days=3), started_at=stale, heartbeat_at=stale)

    summary = release_matured_lots(currency="AED", as_of=today)

    assert summary.executed_count == 2 and not summary.already_running
    for run in (dead, older_day):
        run.refresh_from_db()
        assert run.status == RunStatus.ABANDONED and run.finished_at is not None and run.exit_code == 1
        assert "no heartbeat since" in run.error and f"taken over by {summary.trace_id}" in run.error
    assert (dead.executed_count, dead.executed_amount) == (7, Decimal("70000.00"))  # what it released stays counted
    new = ReleaseRun.objects.get(pk=summary.run_id)
    assert new.status == RunStatus.SUCCEEDED and new.executed_count == 2


def test_each_chunk_adds_its_counts_and_renews_the_heartbeat(avenir):
    today = utc_today()
    DepositFactory.create_batch(5, release_day=today)
    beats = []

    def progress(done, total):
        beats.append(ReleaseRun.objects.values_list("executed_count", "heartbeat_at").get())

    summary = release_matured_lots(currency="AED", as_of=today, chunk_size=2, workers=1, on_progress=progress)

    assert [count for count, _ in beats] == [2, 4, 5]
    assert [beat for _, beat in beats] == sorted(beat for _, beat in beats) and len({b for _, b in beats}) == 3
    run = ReleaseRun.objects.get(pk=summary.run_id)
    assert (run.executed_count, run.executed_amount, run.locks_closed_count) == (5, Decimal("50000.00"), 5)
    assert run.heartbeat_at >= run.started_at


def test_a_run_that_lost_its_lease_stops_and_its_row_counts_what_it_committed(avenir):
    """Another run took the lease over (this one looked dead): the next chunk rolls back."""
    today = utc_today()
    DepositFactory.create_batch(6, release_day=today)

    def taken_over(done, total):
        with other_session(autocommit=True) as other:
            other.execute("UPDATE vault_release_runs SET status = 'ABANDONED' WHERE status = 'RUNNING'")

    with pytest.raises(LeaseLost):
        release_matured_lots(currency="AED", as_of=today, chunk_size=2, workers=1, on_progress=taken_over)

    run = ReleaseRun.objects.get()
    assert run.status == RunStatus.ABANDONED  # the FAILED record does not overwrite the taker's verdict
    assert run.executed_count == released() == 2
    assert_invariants()


def test_sequential_runs_each_take_and_give_back_the_lease(avenir):
    today = utc_today()
    DepositFactory.create_batch(2, release_day=today)
    summaries = [release_matured_lots(currency="AED", as_of=today) for _ in range(5)]
    assert [s.already_running for s in summaries] == [False] * 5
    assert [s.executed_count for s in summaries] == [2, 0, 0, 0, 0]
    assert [s.skipped_count for s in summaries] == [0, 2, 2, 2, 2]
    assert ReleaseRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 5


def test_the_lease_keeper_holds_the_lease_while_a_chunk_waits_longer_than_the_lease(avenir, settings):
    """The chunk waits 3 s on a lock held elsewhere, three times the lease: the keeper's
    thread renews the heartbeat meanwhile, so the run is never taken for dead, and a second
    run of the day answers already_running instead of taking over."""
    settings.AVENIR_RELEASE_HEARTBEAT_SECONDS = 0.2
    settings.AVENIR_RELEASE_LEASE_SECONDS = 1.0
    settings.AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS = 30
    today = utc_today()
    deposit = DepositFactory(release_day=today)
    owner = VestingLot.objects.get(pk=deposit.lot_id).user_id
    with other_session() as holder:
        holder.execute("SELECT id FROM ledger_accounts WHERE owner_id = %s FOR UPDATE", [owner])
        thread, out = in_thread(lambda: release_matured_lots(currency="AED", as_of=today, workers=1))
        run = wait_for(lambda: ReleaseRun.objects.first(), timeout=30, what="the run to take its lease")
        first_beat = run.heartbeat_at
        time.sleep(3)
        second = release_matured_lots(currency="AED", as_of=today)
        run.refresh_from_db()
        holder.rollback()
    thread.join(timeout=60)

    assert second.already_running, "a live run waiting on a lock was taken over"
    assert run.status == RunStatus.RUNNING and run.heartbeat_at > first_beat
    assert "error" not in out, out.get("error")
    assert out["result"].executed_count == 1
    assert ReleaseRun.objects.get().status == RunStatus.SUCCEEDED
