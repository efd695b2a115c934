"""`manage.py reverse_avenir_release` as operators run it: real processes, real exit codes; bad
input to any flag exits 2 with one line and changes nothing."""

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from vaults.models import LotStatus, ReleaseRun, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory, ReleaseRunFactory
from vaults.tests.support.database import database_fingerprint
from vaults.tests.support.stack import ROOT, subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]


def reverse(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "reverse_avenir_release", *args],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def released_run(avenir) -> ReleaseRun:
    for _ in range(2):
        DepositFactory(release_day=utc_today())
    return ReleaseRun.objects.get(pk=release_matured_lots(currency="AED", workers=1).run_id)


def test_reversing_a_run_prints_the_json_and_exits_0(released_run):
    dry = reverse("--run", str(released_run.pk), "--reason", "wrong day", "--vesting-days", "400", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["summary"]["reversed_count"] == 2
    assert VestingLot.objects.filter(status=LotStatus.RELEASED).count() == 2

    done = reverse("--run", str(released_run.pk), "--reason", "wrong day", "--vesting-days", "400")

    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["job"] == "avenir_vesting_reversal" and doc["trace_id"].startswith("job-avenir-reversal-")
    assert doc["scope"] == {"kind": "run", "run_id": released_run.pk, "run_trace_id": released_run.trace_id}
    assert doc["summary"]["reversed_count"] == 2 and doc["summary"]["reversed_amount"] == "20000.00"
    assert doc["reason"] == "wrong day" and doc["exit_code"] == 0
    assert VestingLot.objects.filter(status=LotStatus.VESTED, reversal_count=1).count() == 2
    replay = reverse("--run", str(released_run.pk), "--reason", "again", "--vesting-days", "400")
    assert replay.returncode == 0 and json.loads(replay.stdout)["summary"]["skipped_count"] == 2


def test_a_refused_lot_exits_1_with_the_json(released_run):
    lot = VestingLot.objects.order_by("pk").first()
    VestingLot.objects.filter(pk=lot.pk).update(deposit_day=utc_today() - timedelta(days=1000))
    done = reverse("--run", str(released_run.pk), "--reason", "wrong day", "--vesting-days", "400")
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["summary"]["errors"][0]["code"] == "RELEASE_DAY_NOT_AFTER_TODAY"
    assert doc["summary"]["reversed_count"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reason", "x", "--vesting-days", "400"], "exactly one scope"),
        (["--run", "RUN", "--as-of", "2025-01-27", "--reason", "x", "--vesting-days", "400"], "exactly one scope"),
        (["--run", "RUN", "--vesting-days", "400"], "a reason is required"),
        (["--run", "RUN", "--reason", "   ", "--vesting-days", "400"], "a reason is required"),
        (["--run", "RUN", "--reason", "x"], "exactly one new release day rule"),
        (["--run", "RUN", "--reason", "x", "--vesting-days", "400", "--release-day", "2099-01-01"], "exactly one"),
        (["--run", "RUN", "--reason", "x", "--release-day", "TODAY"], "must be after today"),
        (["--run", "RUN", "--reason", "x", "--release-day", "2099-02-30"], "invalid --release-day"),
        (["--run", "RUN", "--reason", "x", "--vesting-days", "0"], "invalid --vesting-days '0'"),
        (["--run", "RUN", "--reason", "x", "--vesting-days", "99999"], "vesting days must be a whole number"),
        (["--run", "x", "--reason", "x", "--vesting-days", "400"], "invalid --run 'x'"),
        (["--run", "987654", "--reason", "x", "--vesting-days", "400"], "no release run 987654"),
        (["--run", "LIVE", "--reason", "x", "--vesting-days", "400"], "is still RUNNING"),
        (["--lot", "1", "²", "--reason", "x", "--vesting-days", "400"], "invalid --lot '²'"),
        (["--as-of", "27/01/2025", "--reason", "x", "--vesting-days", "400"], "invalid --as-of"),
        (["--as-of", "2025-01-27", "--reason", "x", "--vesting-days", "400", "--currency", "XXX"], "unknown currency"),
        (["--run", "RUN", "--reason", "x", "--vesting-days", "400", "--workers", "99"], "workers must be"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_changes_nothing(released_run, args, message):
    live = ReleaseRunFactory(as_of=utc_today() - timedelta(days=3))
    values = {"RUN": str(released_run.pk), "LIVE": str(live.pk), "TODAY": utc_today().isoformat()}
    before = database_fingerprint()

    done = reverse(*(values.get(arg, arg) for arg in args))

    assert done.returncode == 2 and done.stdout == ""
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert database_fingerprint() == before
