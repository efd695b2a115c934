"""`manage.py release_avenir_vesting` as operators run it: real processes, real exit codes.

Stdout holds only the runbook's JSON; stderr holds JSON log lines; exit 0/1/2.
"""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from common.database_url import database_url
from ledger.models import Operation
from vaults.models import LotStatus, ReleaseRun, VestingLot
from vaults.services.release import utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.database import database_fingerprint
from vaults.tests.support.ledger import unlock

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]
ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str) -> subprocess.CompletedProcess:
    """Run manage.py against the test database in a separate process."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "DJANGO_DEBUG": "true",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def log_lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_clean_run_exit_0_json_on_stdout_logs_on_stderr(avenir):
    for _ in range(2):
        DepositFactory(release_day=utc_today())

    proc = manage("release_avenir_vesting", "--currency", "AED")

    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout is exactly one JSON document
    assert set(doc) == {"job", "trace_id", "as_of", "currency", "dry_run", "already_running", "summary", "exit_code"}
    assert doc["job"] == "avenir_vesting_release" and doc["exit_code"] == 0 and doc["dry_run"] is False
    assert doc["summary"]["executed_count"] == 2 and doc["summary"]["executed_amount"] == "20000.00"
    logs = log_lines(proc.stderr)
    assert logs and all(line["trace_id"] == doc["trace_id"] for line in logs)
    assert all(line["job"] == "avenir_vesting_release" for line in logs)
    assert ReleaseRun.objects.get().trigger == "cli"


def test_dry_run_flag_writes_nothing(avenir):
    DepositFactory(release_day=utc_today())
    before = database_fingerprint()
    proc = manage("release_avenir_vesting", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["dry_run"] is True and doc["summary"]["executed_count"] == 1
    assert database_fingerprint() == before


def test_past_date_replay_from_the_cli(avenir):
    yesterday = utc_today() - timedelta(days=1)
    DepositFactory(release_day=yesterday)
    first = manage("release_avenir_vesting", "--as-of", yesterday.isoformat())
    replay = manage("release_avenir_vesting", "--as-of", yesterday.isoformat())
    assert (first.returncode, replay.returncode) == (0, 0)
    assert json.loads(first.stdout)["summary"]["executed_count"] == 1
    replayed = json.loads(replay.stdout)["summary"]
    assert (replayed["executed_count"], replayed["skipped_count"]) == (0, 1)


def test_errors_give_exit_1_with_the_json_still_on_stdout(avenir):
    good, bad = DepositFactory(release_day=utc_today()), DepositFactory(release_day=utc_today())
    unlock(VestingLot.objects.get(pk=bad.lot_id).user, "5.00", "manual")

    proc = manage("release_avenir_vesting")

    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["exit_code"] == 1 and doc["summary"]["errors_count"] == 1
    assert doc["summary"]["errors"][0]["lot_id"] == bad.lot_id
    assert VestingLot.objects.get(pk=good.lot_id).status == LotStatus.RELEASED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2025-13-40"], "invalid --as-of"),
        (["--as-of", "yesterday"], "invalid --as-of"),
        (["--currency", "XXX"], "unknown currency"),
        (["--currency", "EUR"], "no AVENIR vault in EUR"),
        (["--as-of", ""], "invalid --as-of ''"),
        (["--as-of", "TOMORROW"], "never released before maturity"),
        (["--chunk-size", "0"], "chunk_size must be a whole number between 1 and 20000"),
        (["--chunk-size", "99999999999999999999"], "chunk_size must be a whole number between 1 and 20000"),
        (["--workers", "0"], "workers must be a whole number between 1 and 8"),
        (["--workers", "300"], "workers must be a whole number between 1 and 8 (AVENIR_RELEASE_MAX_WORKERS)"),
    ],
)
def test_bad_usage_exit_2_one_line_and_nothing_written(avenir, args, message):
    """Tomorrow is tomorrow by the database's clock."""
    args = [(utc_today() + timedelta(days=1)).isoformat() if arg == "TOMORROW" else arg for arg in args]
    DepositFactory(release_day=utc_today())
    before = database_fingerprint()

    proc = manage("release_avenir_vesting", *args)

    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    assert database_fingerprint() == before
    assert not Operation.objects.filter(type="VAULT_VESTING_RELEASE").exists()
