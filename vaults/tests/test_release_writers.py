"""One run, several connections writing chunks at once (AVENIR_RELEASE_WORKERS).

Real threads and real PostgreSQL sessions: a blocker session holds a wallet row lock so
one writer waits inside its chunk transaction while the other one commits.
"""

import threading
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction

from ledger.models import Operation, OperationType
from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.services.seed import seed_avenir
from vaults.tests.factories import DepositFactory
from vaults.tests.support.concurrency import in_thread, wait_for
from vaults.tests.support.database import assert_invariants, other_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]


def status(lot_id: int) -> str:
    return VestingLot.objects.get(pk=lot_id).status


def wait_for_blocked(blocker: psycopg.Connection) -> int:
    """The backend pid of the session waiting on the blocker's row lock. The blocker's server
    pid is read inside its transaction: through PgBouncer, psycopg's info.backend_pid is the
    pooler's key, not a server pid."""
    blocker_pid = blocker.execute("SELECT pg_backend_pid()").fetchone()[0]
    found: list[int] = []

    def blocked() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [blocker_pid])
            found[:] = [row[0] for row in cursor.fetchall()]
        return len(found) == 1

    wait_for(blocked, timeout=20, what="a session blocked by the blocker", interval=0.05)
    return found[0]


def start_release(**kwargs) -> tuple[threading.Thread, dict]:
    """release_matured_lots in a thread (its own connection); the outcome lands in the dict."""
    outcome: dict = {"progress_threads": set()}

    def run() -> None:
        outcome["thread"] = threading.get_ident()
        outcome["summary"] = release_matured_lots(
            currency="AED",
            on_progress=lambda done, total: outcome["progress_threads"].add(threading.get_ident()),
            **kwargs,
        )

    return in_thread(run, out=outcome)


def two_users_one_lot_each() -> tuple[int, int, int]:
    """(lot of user A, lot of user B, user A): A's lot comes first in the walk."""
    first, second = DepositFactory(release_day=utc_today()), DepositFactory(release_day=utc_today())
    return first.lot_id, second.lot_id, VestingLot.objects.get(pk=first.lot_id).user_id


def test_a_second_writer_commits_while_the_first_waits(avenir):
    """With one connection, lot B could not be released before lot A's chunk ends."""
    lot_a, lot_b, user_a = two_users_one_lot_each()
    with other_session() as blocker:
        blocker.execute("SELECT id FROM ledger_accounts WHERE owner_id = %s FOR UPDATE", [user_a])
        thread, outcome = start_release(chunk_size=1, workers=2)
        try:
            wait_for(lambda: status(lot_b) == LotStatus.RELEASED, timeout=20, what="lot B released", interval=0.05)
            assert status(lot_a) == LotStatus.VESTED  # its writer waits on the blocker
        finally:
            blocker.rollback()
        thread.join(timeout=60)
    summary = outcome["summary"]
    assert (summary.executed_count, summary.errors_count) == (2, 0)
    assert summary.executed_amount == Decimal("20000.00")
    assert status(lot_a) == LotStatus.RELEASED
    # Progress is reported by the calling thread only, never by the writers.
    assert outcome["progress_threads"] == {outcome["thread"]}
    assert_invariants()


def test_a_writer_whose_session_is_terminated_reconnects_and_the_run_finishes(avenir):
    """The server ends the session of the writer waiting on a lock (an admin's
    pg_terminate_backend, a failover): its chunk rolls back, it reconnects, and a later
    pass releases the lot. Nothing is released twice and the run says SUCCEEDED."""
    lot_a, lot_b, user_a = two_users_one_lot_each()
    with other_session() as blocker:
        blocker.execute("SELECT id FROM ledger_accounts WHERE owner_id = %s FOR UPDATE", [user_a])
        thread, outcome = start_release(chunk_size=1, workers=2)
        try:
            wait_for(lambda: status(lot_b) == LotStatus.RELEASED, timeout=20, what="lot B released", interval=0.05)
            waiting = wait_for_blocked(blocker)
            with connection.cursor() as cursor:  # end the session of the writer waiting on the lock
                cursor.execute("SELECT pg_terminate_backend(%s)", [waiting])
        finally:
            blocker.rollback()
        thread.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    summary = outcome["summary"]
    assert (summary.executed_count, summary.errors_count) == (2, 0)
    run = ReleaseRun.objects.get()
    assert (run.status, run.executed_count) == (RunStatus.SUCCEEDED, 2)
    assert status(lot_a) == status(lot_b) == LotStatus.RELEASED
    assert Operation.objects.filter(type=OperationType.VAULT_VESTING_RELEASE).count() == 2
    assert_invariants()


def test_a_run_that_keeps_losing_its_connection_gives_up_failed_with_exact_counts(avenir):
    """Every chunk of one user's lots ends its own session (a trigger stands in for a
    server that keeps dropping the connection): after its passes the run stops, FAILED
    with the reason, and its row counts exactly what was released."""
    lots = [DepositFactory(release_day=utc_today()) for _ in range(3)]
    cursed = VestingLot.objects.get(pk=lots[1].lot_id).user_id
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_drop_session() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.user_id = {cursed} THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; "
            "RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_drop_session BEFORE UPDATE ON vault_vesting_lots "
            "FOR EACH ROW EXECUTE FUNCTION test_drop_session()"
        )
    try:
        with pytest.raises(RuntimeError, match="lost the database connection in 10 passes"):
            release_matured_lots(currency="AED", chunk_size=1, workers=1)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_drop_session ON vault_vesting_lots")
            cursor.execute("DROP FUNCTION test_drop_session()")
    run = ReleaseRun.objects.get()
    assert run.status == RunStatus.FAILED and "lost the database connection" in run.error
    assert run.executed_count == VestingLot.objects.filter(status=LotStatus.RELEASED).count() == 2
    assert status(lots[1].lot_id) == LotStatus.VESTED
    assert_invariants()


def test_many_chunks_on_two_writers_release_each_lot_once(avenir):
    """Exactness over many small chunks shared by two writers (that two really write at
    once is shown by test_a_second_writer_commits_while_the_first_waits)."""
    today = utc_today()
    seed_avenir(
        users=40,
        lots_per_user=5,
        deposit_day=today - timedelta(days=settings.AVENIR_VESTING_DAYS + 2),
        spread_days=3,
        method="bulk",
    )
    seen: list[tuple[int, int]] = []

    summary = release_matured_lots(
        currency="AED", chunk_size=7, workers=2, on_progress=lambda done, total: seen.append((done, total))
    )

    assert (summary.executed_count, summary.errors_count, summary.locks_closed_count) == (200, 0, 200)
    assert summary.executed_amount == Decimal("10000.00") * 200
    releases = Operation.objects.filter(type=OperationType.VAULT_VESTING_RELEASE)
    assert releases.values("operation_metadata__lot_id").distinct().count() == releases.count() == 200
    assert len(seen) == 29 and seen[-1] == (200, 200)  # each committed chunk reported once
    assert_invariants()


def test_inside_a_callers_transaction_one_connection_does_the_work(avenir):
    """Other connections could not see these uncommitted lots: the run must not use them."""
    with transaction.atomic():
        lots = [DepositFactory(release_day=utc_today()).lot_id for _ in range(3)]
        summary = release_matured_lots(currency="AED", chunk_size=1, workers=2)
        assert summary.executed_count == 3
    assert all(status(lot) == LotStatus.RELEASED for lot in lots)
    assert_invariants()


def test_an_interrupted_caller_stops_the_writers_and_counts_what_they_committed(avenir):
    """As a Celery soft time limit would: the exception is raised in the calling thread."""
    today = utc_today()
    seed_avenir(
        users=30, lots_per_user=4, deposit_day=today - timedelta(days=settings.AVENIR_VESTING_DAYS), method="bulk"
    )

    def interrupt(done: int, total: int) -> None:
        raise RuntimeError("soft time limit")

    with pytest.raises(RuntimeError, match="soft time limit"):
        release_matured_lots(currency="AED", chunk_size=5, workers=2, on_progress=interrupt)

    assert not [t for t in threading.enumerate() if t.name.startswith("release-writer")]
    run = ReleaseRun.objects.get()
    released = VestingLot.objects.filter(status=LotStatus.RELEASED).count()
    assert run.status == RunStatus.FAILED
    assert 0 < released < 120  # stopped early, after the chunks in flight
    assert run.executed_count == released  # every committed chunk is in the run's figures
    assert_invariants()


def test_an_interrupted_caller_cancels_a_writer_waiting_on_a_lock(avenir):
    """The writer blocked on a row lock is cancelled, not waited for: the run ends at once,
    FAILED, with the chunk that committed counted and the blocked lot left VESTED."""
    lot_a, lot_b, user_a = two_users_one_lot_each()

    def interrupt(done: int, total: int) -> None:
        raise RuntimeError("soft time limit")

    with other_session() as blocker:
        blocker.execute("SELECT id FROM ledger_accounts WHERE owner_id = %s FOR UPDATE", [user_a])
        try:
            with pytest.raises(RuntimeError, match="soft time limit"):
                release_matured_lots(currency="AED", chunk_size=1, workers=2, on_progress=interrupt)
        finally:
            blocker.rollback()
    run = ReleaseRun.objects.get()
    assert (run.status, run.executed_count) == (RunStatus.FAILED, 1)
    assert status(lot_a) == LotStatus.VESTED and status(lot_b) == LotStatus.RELEASED
    assert not [t for t in threading.enumerate() if t.name.startswith("release-writer")]
    assert_invariants()
