"""A connection lost while a chunk's COMMIT is on its way: the chunk may or may not have
committed. The run reconnects, asks PostgreSQL (pg_xact_status) and counts the chunk exactly
once either way: in its summary, on its run row, and in the ledger.

The release runs in a real process whose only way to the database is a proxy that drops
the connection at that moment (vaults/tests/support/fault_proxy.py).
"""

import json
import subprocess
import sys

import pytest
from django.db import connection

from ledger.models import Operation, OperationType
from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.services.release import utc_today
from vaults.tests.support.database import assert_invariants, seed_matured
from vaults.tests.support.fault_proxy import AFTER_COMMIT, BEFORE_COMMIT, FaultProxy
from vaults.tests.support.stack import ROOT, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)
LOTS = 40


@pytest.mark.parametrize(
    ("mode", "in_doubt_committed"),
    [(AFTER_COMMIT, True), (BEFORE_COMMIT, False)],
)
def test_a_chunk_lost_at_commit_is_counted_exactly_once(avenir, database_server, mode, in_doubt_committed):
    seed_matured(utc_today(), users=LOTS // 4, lots_per_user=4, spread_days=1)
    with FaultProxy(database_server) as proxy:
        proxy.arm(mode)
        done = subprocess.run(
            [sys.executable, "manage.py", "release_avenir_vesting", "--workers", "1", "--chunk-size", "5"],
            cwd=ROOT,
            env={**subprocess_env(), "DATABASE_URL": proxy.url(connection.settings_dict["NAME"])},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proxy.fired.is_set(), "the proxy never saw a chunk commit"

    assert done.returncode == 0, done.stderr
    assert "database connection lost; reconnecting" in done.stderr
    assert ("the chunk whose commit was in doubt did commit" in done.stderr) is in_doubt_committed, done.stderr
    summary = json.loads(done.stdout)["summary"]
    assert summary["executed_count"] == LOTS and summary["errors_count"] == 0
    run = ReleaseRun.objects.get()
    assert (run.status, run.executed_count) == (RunStatus.SUCCEEDED, LOTS)
    assert VestingLot.objects.filter(status=LotStatus.RELEASED).count() == LOTS
    assert Operation.objects.filter(type=OperationType.VAULT_VESTING_RELEASE).count() == LOTS
    assert_invariants()
