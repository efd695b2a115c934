"""The business date is PostgreSQL's UTC date. The app server's clock is moved with
libfaketime (the `faketime` Debian package, installed by scripts/test.sh) in a real
`manage.py` process; the database server's clock is left alone."""

import json
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest

from vaults.models import LotStatus, ReleaseRun, VestingLot
from vaults.services.release import utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.stack import ROOT, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)


def manage_a_day_ahead(*args: str) -> subprocess.CompletedProcess:
    faketime = shutil.which("faketime")
    assert faketime, "faketime is missing: scripts/test.sh installs it"
    return subprocess.run(
        [faketime, "-f", "+1d", sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def skew_warnings(stderr: str) -> list[dict]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"].startswith("app clock and database clock differ")]


def test_the_app_clocks_today_is_refused_when_it_is_the_databases_tomorrow(avenir):
    db_today = utc_today()
    app_today = db_today + timedelta(days=1)
    DepositFactory(release_day=app_today)

    proc = manage_a_day_ahead("release_avenir_vesting", "--as-of", app_today.isoformat())

    assert proc.returncode == 2, proc.stderr
    assert f"as_of {app_today} is after today's UTC date {db_today}" in proc.stderr
    [warning] = skew_warnings(proc.stderr)
    assert warning["level"] == "warning" and 86_000 < warning["skew_seconds"] < 86_800
    assert not ReleaseRun.objects.exists() and not VestingLot.objects.filter(status=LotStatus.RELEASED).exists()


def test_the_default_as_of_is_the_databases_today_whatever_the_app_clock_says(avenir):
    db_today = utc_today()
    due = DepositFactory(release_day=db_today)
    not_yet = DepositFactory(release_day=db_today + timedelta(days=1))

    proc = manage_a_day_ahead("release_avenir_vesting")

    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["as_of"] == db_today.isoformat() and doc["summary"]["executed_count"] == 1
    assert VestingLot.objects.get(pk=due.lot_id).status == LotStatus.RELEASED
    assert VestingLot.objects.get(pk=not_yet.lot_id).status == LotStatus.VESTED
    assert skew_warnings(proc.stderr)
