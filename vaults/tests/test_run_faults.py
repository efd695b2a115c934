"""A run under the faults of production: SIGKILL mid-run, a row lock held elsewhere, an
interruption in the middle of a statement, SIGTERM, an idle-session timeout on the server.
Real processes and real PostgreSQL sessions; every wait is bounded."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection
from django.db.models import Sum

from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.services.schedule import ensure_avenir_schedule
from vaults.tests.factories import DepositFactory
from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.database import assert_invariants, other_session, seed_matured
from vaults.tests.support.stack import ROOT, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)


def manage_process(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**subprocess_env(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def released_lots():
    return VestingLot.objects.filter(status=LotStatus.RELEASED)


def released_amount() -> Decimal:
    return released_lots().aggregate(total=Sum("amount"))["total"] or Decimal(0)


def sessions_waiting_on_or_holding_lot_locks(*, besides: set[int]) -> list[tuple]:
    """Backends (other than `besides`) that hold or wait for a lock on lots or accounts,
    or still run a statement on them, seen from another session."""
    with other_session(autocommit=True) as observer:
        me = observer.execute("SELECT pg_backend_pid()").fetchone()[0]
        return observer.execute(
            "SELECT a.pid, a.state, a.wait_event_type, left(a.query, 60) FROM pg_stat_activity a "
            "WHERE a.datname = current_database() AND a.pid <> ALL(%s) AND ("
            "  EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.relation IN "
            "          ('vault_vesting_lots'::regclass, 'ledger_accounts'::regclass))"
            "  OR (a.state <> 'idle' AND a.query ILIKE '%%vault_vesting_lots%%'))",
            [sorted(besides | {me})],
        ).fetchall()


def test_sigkill_mid_run_the_row_is_exact_the_next_run_takes_over_and_health_is_green(avenir, settings):
    ensure_avenir_schedule()
    today = utc_today()
    seed_matured(today, users=500, lots_per_user=4, spread_days=1)  # 2,000 lots
    run = manage_process("release_avenir_vesting", "--chunk-size", "10", "--workers", "1")
    try:
        wait_for(
            lambda: ReleaseRun.objects.filter(executed_count__gte=100).exists() or run.poll() is not None,
            timeout=60,
            what="100 lots released",
        )
    finally:
        os.kill(run.pid, signal.SIGKILL)
        _, err = run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL, err  # killed mid-run, not finished

    dead = ReleaseRun.objects.get()
    assert dead.status == RunStatus.RUNNING and dead.finished_at is None
    assert 100 <= dead.executed_count < 2000
    assert (dead.executed_count, dead.executed_amount) == (released_lots().count(), released_amount())

    # Ten minutes later the lease has expired (moved back in time rather than waited for).
    stale = datetime.now(UTC) - timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS + 1)
    ReleaseRun.objects.filter(pk=dead.pk).update(heartbeat_at=stale)
    done_before = dead.executed_count
    rerun = manage_process("release_avenir_vesting")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err

    dead.refresh_from_db()
    assert dead.status == RunStatus.ABANDONED and "taken over by" in dead.error
    assert dead.executed_count == done_before  # what it released stays on its row
    doc = json.loads(out)
    assert doc["summary"]["executed_count"] == 2000 - done_before
    assert doc["summary"]["skipped_count"] == done_before  # released earlier, same as_of
    assert released_lots().count() == 2000
    assert_invariants()

    health = manage_process("avenir_schedule_status", "--json")
    out, err = health.communicate(timeout=60)
    assert health.returncode == 0, out + err
    assert json.loads(out)["alerts"] == []


def test_a_lock_held_elsewhere_bounds_the_wait_and_reports_only_the_blocked_lots(avenir, settings):
    settings.AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS = 0.3
    today = utc_today()
    deposits = [DepositFactory(release_day=today) for _ in range(6)]
    owner = VestingLot.objects.get(pk=deposits[2].lot_id).user
    DepositFactory(user=owner, release_day=today)  # the blocked owner has two lots
    blocked_lots = set(VestingLot.objects.filter(user=owner).values_list("pk", flat=True))

    with other_session() as holder:  # an open transaction holding the owner's account rows
        holder.execute("SELECT id FROM ledger_accounts WHERE owner_id = %s FOR UPDATE", [owner.pk])
        summary = release_matured_lots(currency="AED", as_of=today, chunk_size=3, workers=1)
        holder.rollback()

    assert summary.executed_count == 5 and summary.errors_count == 2
    assert {e.lot_id for e in summary.errors} == blocked_lots
    assert {e.code for e in summary.errors} == {"LOCK_TIMEOUT"}
    run = ReleaseRun.objects.get(pk=summary.run_id)
    assert (run.status, run.executed_count, run.errors_count) == (RunStatus.COMPLETED_WITH_ERRORS, 5, 2)

    after = release_matured_lots(currency="AED", as_of=today)  # the lock is gone: the rest is released
    assert after.executed_count == 2 and after.errors_count == 0
    assert_invariants()


def test_a_soft_time_limit_mid_statement_leaves_no_query_running_and_no_row_locked(avenir, settings):
    """Celery raises SoftTimeLimitExceeded from a signal handler, here while the run waits
    on a row lock inside claim.sql: the statement must be cancelled on the server."""
    settings.AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS = 60
    today = utc_today()
    owner_id = VestingLot.objects.get(pk=DepositFactory(release_day=today).lot_id).user_id
    DepositFactory(release_day=today)

    def soft_time_limit(signum, frame):
        raise SoftTimeLimitExceeded("soft time limit exceeded")

    previous = signal.signal(signal.SIGALRM, soft_time_limit)
    with other_session() as holder:
        holder_pid = holder.execute("SELECT pg_backend_pid()").fetchone()[0]
        holder.execute("SELECT id FROM ledger_accounts WHERE owner_id = %s FOR UPDATE", [owner_id])
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        try:
            with pytest.raises(SoftTimeLimitExceeded):
                release_matured_lots(currency="AED", as_of=today, workers=1)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        # Checked while the holder still holds its lock: a statement left running would still wait.
        lingering = wait_for(
            lambda: not sessions_waiting_on_or_holding_lot_locks(besides={holder_pid}) or None,
            timeout=10,
            what="the interrupted statement to end on the server",
        )
        assert lingering
        holder.rollback()

    run = ReleaseRun.objects.get()
    assert run.status == RunStatus.FAILED and "SoftTimeLimitExceeded" in run.error
    assert not released_lots().exists()
    connection.close()


def test_sigterm_mid_statement_cancels_it_records_failed_and_exits_1(avenir):
    today = utc_today()
    owner_id = VestingLot.objects.get(pk=DepositFactory(release_day=today).lot_id).user_id
    with other_session() as holder:
        holder_pid = holder.execute("SELECT pg_backend_pid()").fetchone()[0]
        holder.execute("SELECT id FROM ledger_accounts WHERE owner_id = %s FOR UPDATE", [owner_id])
        run = manage_process("release_avenir_vesting", "--workers", "1", AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS="60")
        try:
            wait_for(
                lambda: sessions_waiting_on_or_holding_lot_locks(besides={holder_pid}),
                timeout=60,
                what="the run to wait on the held lock",
            )
            run.send_signal(signal.SIGTERM)
            out, err = run.communicate(timeout=30)
        finally:
            if run.poll() is None:
                run.kill()
        assert wait_for(
            lambda: not sessions_waiting_on_or_holding_lot_locks(besides={holder_pid}) or None,
            timeout=10,
            what="the cancelled statement to end",
        )
        holder.rollback()
    assert run.returncode == 1 and "interrupted (signal SIGTERM)" in err
    assert out == ""
    run_row = ReleaseRun.objects.get()
    assert run_row.status == RunStatus.FAILED and not released_lots().exists()


@pytest.mark.parametrize("shape", ["chunks keep arriving", "a writer waits on a lock"])
def test_no_connection_of_a_run_idles_past_an_idle_session_timeout(avenir, shape):
    """The server ends sessions idle for 0.5 s. Two writers release small chunks for a few
    seconds, while the calling thread only waits: whether the chunks keep arriving or a
    writer waits 2 s on a lock, no connection of the run (writers, caller, lease keeper,
    the final pass, the bookkeeping at the end) is ever ended by the server: the run never
    has to reconnect, and finishes SUCCEEDED."""
    today = utc_today()
    lots = 6000 if shape == "chunks keep arriving" else 16
    seed_matured(today, users=lots // 4, lots_per_user=4, spread_days=1)
    # Its lot comes last, so only the last chunk waits on the lock; the others commit.
    user_id = VestingLot.objects.get(pk=DepositFactory(release_day=today).lot_id).user_id
    with other_session() as holder:
        if shape == "a writer waits on a lock":
            holder.execute("SELECT id FROM ledger_accounts WHERE owner_id = %s FOR UPDATE", [user_id])
        run = manage_process(
            "release_avenir_vesting",
            "--workers",
            "2",
            "--chunk-size",
            "10" if shape == "chunks keep arriving" else "5",
            PGOPTIONS="-c idle_session_timeout=500",
            AVENIR_RELEASE_HEARTBEAT_SECONDS="0.25",
            AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS="30",
        )
        try:
            wait_for(
                lambda: ReleaseRun.objects.filter(executed_count__gt=0).exists() or run.poll() is not None,
                timeout=60,
                what="the run to start",
            )
            if shape == "a writer waits on a lock":
                assert run.poll() is None, run.communicate()
                time.sleep(2)  # longer than the idle timeout
            holder.rollback()
            out, err = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()
    assert run.returncode == 0, err
    assert json.loads(out)["summary"]["executed_count"] == lots + 1
    finished = ReleaseRun.objects.get()
    assert finished.status == RunStatus.SUCCEEDED
    assert (finished.finished_at - finished.started_at).total_seconds() > 1  # the timeout had time to strike
    assert "connection lost" not in err and "heartbeat failed" not in err, err
