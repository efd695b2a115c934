"""The run lease through a real PgBouncer in transaction pooling mode, in separate
`manage.py release_avenir_vesting` processes with DATABASE_POOLER=transaction: the way most
managed PostgreSQL is reached. A session advisory lock failed exactly here."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.services.release import utc_today
from vaults.tests.factories import DepositFactory, ReleaseRunFactory
from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.database import other_session
from vaults.tests.support.stack import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def start_release(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "release_avenir_vesting", *args],
        cwd=ROOT,
        env={**env, "DJANGO_DEBUG": "true", "AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_four_concurrent_runs_one_does_the_work_the_others_return_already_running(avenir, pgbouncer_env):
    today = utc_today()
    owners = [DepositFactory(release_day=today).lot_id for _ in range(5)]
    owner_id = VestingLot.objects.get(pk=owners[0]).user_id
    with other_session() as holder:
        # The winner waits on this account lock inside its run, so the other three surely
        # try while it holds the lease; they must not wait.
        holder.execute("SELECT id FROM ledger_accounts WHERE owner_id = %s FOR UPDATE", [owner_id])
        runs = [start_release(pgbouncer_env) for _ in range(4)]
        try:
            wait_for(
                lambda: sum(run.poll() is not None for run in runs) >= 3,
                timeout=90,
                what="three runs to return while the fourth holds the lease",
            )
        finally:
            holder.rollback()
        docs = [finish(run) for run in runs]

    busy = [doc for doc in docs if doc["already_running"]]
    [winner] = [doc for doc in docs if not doc["already_running"]]
    assert len(busy) == 3 and all(doc["summary"]["executed_count"] == 0 for doc in busy)
    assert winner["summary"]["executed_count"] == 5
    run = ReleaseRun.objects.get()
    assert run.trace_id == winner["trace_id"] and run.status == RunStatus.SUCCEEDED
    assert VestingLot.objects.filter(status=LotStatus.RELEASED).count() == 5


def test_five_sequential_runs_each_take_the_lease(avenir, pgbouncer_env):
    today = utc_today()
    for _ in range(5):
        DepositFactory(release_day=today)
    docs = [finish(start_release(pgbouncer_env)) for _ in range(5)]
    assert [doc["already_running"] for doc in docs] == [False] * 5
    assert [doc["summary"]["executed_count"] for doc in docs] == [5, 0, 0, 0, 0]
    assert [doc["summary"]["skipped_count"] for doc in docs] == [0, 5, 5, 5, 5]
    assert ReleaseRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 5


def test_an_expired_lease_is_taken_over(avenir, pgbouncer_env, settings):
    today = utc_today()
    DepositFactory(release_day=today)
    stale = datetime.now(UTC) - timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS + 60)
    dead = ReleaseRunFactory(as_of=today, started_at=stale, heartbeat_at=stale)

    doc = finish(start_release(pgbouncer_env, "--chunk-size", "1"))

    assert not doc["already_running"] and doc["summary"]["executed_count"] == 1
    dead.refresh_from_db()
    assert dead.status == RunStatus.ABANDONED and f"taken over by {doc['trace_id']}" in dead.error
    assert ReleaseRun.objects.get(trace_id=doc["trace_id"]).status == RunStatus.SUCCEEDED
