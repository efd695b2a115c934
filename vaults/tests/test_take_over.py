"""`release_avenir_vesting --take-over RUN_ID`: an operator who knows a run's process is dead
takes its day over at once instead of waiting for the lease. Fencing makes it safe even when
the run was alive: its next chunk finds its row taken over and rolls back."""

import json
import subprocess
import sys

import pytest

from ledger.models import Operation, OperationType
from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.services.release import utc_today
from vaults.tests.factories import DepositFactory, ReleaseRunFactory
from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.database import assert_invariants, database_fingerprint, other_session
from vaults.tests.support.stack import ROOT, subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "release_avenir_vesting", *args],
        cwd=ROOT,
        env={**subprocess_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def released() -> int:
    return VestingLot.objects.filter(status=LotStatus.RELEASED).count()


def test_take_over_abandons_the_run_with_who_did_it_and_finishes_its_day(avenir):
    today = utc_today()
    DepositFactory.create_batch(3, release_day=today)
    stuck = ReleaseRunFactory(as_of=today, executed_count=0)  # fresh heartbeat: the lease has not expired

    done = manage("--take-over", str(stuck.pk))

    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["as_of"] == today.isoformat() and doc["summary"]["executed_count"] == 3
    stuck.refresh_from_db()
    assert stuck.status == RunStatus.ABANDONED and stuck.finished_at is not None
    assert "taken over by cli:" in stuck.error and "--take-over" in stuck.error and doc["trace_id"] in stuck.error
    new = ReleaseRun.objects.get(trace_id=doc["trace_id"])
    assert new.status == RunStatus.SUCCEEDED and new.actor.startswith("cli:") and new.holder
    assert released() == 3
    assert_invariants()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--take-over", "987654"], "no release run 987654"),
        (["--take-over", "FINISHED"], "is SUCCEEDED, not RUNNING: there is nothing to take over"),
        (["--take-over", "RUNNING", "--as-of", "2025-01-27"], "--take-over uses the run's own as_of and currency"),
        (["--take-over", "RUNNING", "--dry-run"], "--take-over uses the run's own as_of and currency"),
        (["--take-over", "x"], "invalid --take-over 'x': expected a run id"),
        (["--take-over", "-3"], "invalid --take-over '-3': expected a run id"),
    ],
)
def test_bad_take_over_exits_2_with_one_line_and_changes_nothing(avenir, args, message):
    today = utc_today()
    DepositFactory(release_day=today)
    runs = {"FINISHED": ReleaseRunFactory(as_of=today, status=RunStatus.SUCCEEDED)}
    runs["RUNNING"] = ReleaseRunFactory(as_of=today)
    args = [str(runs[a].pk) if a in runs else a for a in args]
    before = database_fingerprint()

    done = manage(*args)

    assert done.returncode == 2 and done.stdout == ""
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert database_fingerprint() == before


def test_a_live_run_taken_over_cannot_commit_another_chunk(avenir):
    """Run A waits inside its first chunk on an account another session holds. An operator
    takes A over; the new run releases everything else. When the account is let go, A's
    chunk finds its row ABANDONED and rolls back: A exits 1, and every lot is released once."""
    today = utc_today()
    first = DepositFactory(release_day=today)  # A's first chunk, held up
    DepositFactory.create_batch(3, release_day=today)
    owner = VestingLot.objects.get(pk=first.lot_id).user_id
    with other_session() as holder:
        holder.execute("SELECT id FROM ledger_accounts WHERE owner_id = %s FOR UPDATE", [owner])
        run_a = subprocess.Popen(
            [sys.executable, "manage.py", "release_avenir_vesting", "--chunk-size", "1", "--workers", "1"],
            cwd=ROOT,
            env={**subprocess_env(), "AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS": "60"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            a = wait_for(lambda: ReleaseRun.objects.first(), timeout=60, what="run A to take its lease")
            taker = subprocess.Popen(
                [sys.executable, "manage.py", "release_avenir_vesting", "--take-over", str(a.pk)],
                cwd=ROOT,
                env={**subprocess_env(), "AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS": "60"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            wait_for(lambda: released() == 3, timeout=60, what="the taker to release the free lots")
            holder.rollback()  # A's chunk goes on, and must not commit
            a_out, a_err = run_a.communicate(timeout=60)
            t_out, t_err = taker.communicate(timeout=60)
        finally:
            for proc in (run_a, locals().get("taker")):
                if proc is not None and proc.poll() is None:
                    proc.kill()

    assert run_a.returncode == 1 and "lost its lease" in a_err and a_out == ""
    assert taker.returncode == 0, t_err
    assert json.loads(t_out)["summary"]["executed_count"] == 4
    a.refresh_from_db()
    assert a.status == RunStatus.ABANDONED and a.executed_count == 0
    assert released() == 4
    assert Operation.objects.filter(type=OperationType.VAULT_VESTING_RELEASE).count() == 4
    assert_invariants()
