"""`avenir_schedule_status`: is anything late? Each signal alerts on its own, so one never
hides another; exit 0 only when there is no alert."""

import io
import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from vaults.models import ReleaseRun, ReleaseTrigger, RunStatus, VestingLot
from vaults.selectors.schedule_health import schedule_health
from vaults.services.release import release_matured_lots, utc_today
from vaults.services.schedule import SCHEDULE_NAME
from vaults.tests.factories import DepositFactory, ReleaseRunFactory

pytestmark = pytest.mark.django_db


def status(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("avenir_schedule_status", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def codes(health) -> list[str]:
    return [alert.code for alert in health.alerts]


def next_0005_utc(after: datetime) -> datetime:
    today = datetime.combine(after.date(), time(0, 5), tzinfo=UTC)
    return today if after < today else today + timedelta(days=1)


def test_no_finished_run_covering_yesterday_alerts_and_exits_1(avenir):
    code, text = status()
    assert code == 1
    assert "ALERT [NOT_COVERED]: no finished release run covers" in text
    assert (utc_today() - timedelta(days=1)).isoformat() in text

    # A run for the day before yesterday does not cover yesterday.
    DepositFactory(release_day=utc_today() - timedelta(days=2))
    release_matured_lots(as_of=utc_today() - timedelta(days=2), trigger=ReleaseTrigger.SCHEDULE)
    code, payload = status("--json")
    report = json.loads(payload)
    assert code == 1 and report["covered"] is False and report["ok"] is False
    assert [a["code"] for a in report["alerts"]] == ["NOT_COVERED"]
    assert report["last_good_run"]["as_of"] == (utc_today() - timedelta(days=2)).isoformat()


def test_all_well_after_a_run_for_today(avenir):
    DepositFactory(release_day=utc_today() - timedelta(days=1))
    summary = release_matured_lots(trigger=ReleaseTrigger.SCHEDULE, actor="celery:test")
    assert summary.executed_count == 1

    health = schedule_health()
    assert health.ok and health.covered and health.exit_code == 0 and health.overdue.count == 0
    assert health.last_good.trace_id == summary.trace_id and health.last_good.trigger == "schedule"
    assert health.schedule == "5 0 * * * (UTC)" and health.enabled
    task = PeriodicTask.objects.get(name=SCHEDULE_NAME)
    assert health.next_run_at == next_0005_utc(task.date_changed)

    code, payload = status("--json")
    report = json.loads(payload)
    assert code == 0 and report["alerts"] == [] and report["warnings"] == []
    assert report["last_good_run"]["trace_id"] == summary.trace_id
    assert report["overdue_lots"] == {"count": 0, "amount": "0.00", "oldest_release_day": None}
    code, text = status()
    assert code == 0 and text.rstrip().endswith("OK") and summary.trace_id in text


def test_a_run_with_lot_errors_still_covers_the_day_and_overdue_lots_alert_separately(avenir):
    """One lot failing every day must not look like an outage (NOT_COVERED): it is an
    overdue lot, and after two runs in a row, a warning naming it."""
    yesterday = utc_today() - timedelta(days=1)
    bad = DepositFactory(release_day=yesterday - timedelta(days=2))
    DepositFactory(release_day=yesterday)
    # More than its locked balance left to release (20,000.00 of which 5,000.00 already released).
    VestingLot.objects.filter(pk=bad.lot_id).update(amount=Decimal("25000.00"), released_amount=Decimal("5000.00"))

    first = release_matured_lots(as_of=yesterday, trigger=ReleaseTrigger.SCHEDULE)
    second = release_matured_lots(trigger=ReleaseTrigger.SCHEDULE)
    assert first.errors_count == second.errors_count == 1

    health = schedule_health()
    assert health.covered and codes(health) == ["OVERDUE_LOTS"]
    assert health.overdue.count == 1 and health.overdue.amount == Decimal("20000.00")  # what is left, as the forecast
    assert health.overdue.oldest_release_day == yesterday - timedelta(days=2)
    assert [w.code for w in health.warnings] == ["REPEATED_LOT_FAILURES"]
    [repeated] = health.repeated_failures
    assert repeated.lot_id == bad.lot_id and repeated.code == "INSUFFICIENT_LOCKED_BALANCE"
    assert repeated.trace_ids == (second.trace_id, first.trace_id)
    code, text = status()
    assert code == 1 and "WARNING [REPEATED_LOT_FAILURES]" in text and f"lot {bad.lot_id}" in text


def test_abandoned_runs_since_the_last_finished_run_alert(avenir, settings):
    release_matured_lots(trigger=ReleaseTrigger.SCHEDULE)
    stale = timezone.now() - timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS + 60)
    ReleaseRunFactory(as_of=utc_today(), started_at=stale - timedelta(days=1), status=RunStatus.ABANDONED)  # older
    assert schedule_health().ok

    dead = ReleaseRunFactory(as_of=utc_today(), started_at=timezone.now(), heartbeat_at=stale)
    ReleaseRun.objects.filter(pk=dead.pk).update(status=RunStatus.ABANDONED, error="abandoned: no heartbeat since ...")
    health = schedule_health()
    assert codes(health) == ["ABANDONED_RUNS"] and [r.trace_id for r in health.abandoned_runs] == [dead.trace_id]
    code, text = status()
    assert code == 1 and f"ABANDONED: {dead.trace_id}" in text

    release_matured_lots(trigger=ReleaseTrigger.SCHEDULE)  # a good run afterwards clears it
    assert schedule_health().ok


def test_a_run_stuck_running_past_its_lease_alerts(avenir, settings):
    release_matured_lots(trigger=ReleaseTrigger.SCHEDULE)  # covered: only the stuck run alerts
    stale = timezone.now() - timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS + 60)
    ReleaseRunFactory(as_of=utc_today() - timedelta(days=1), actor="celery:lost", started_at=stale, heartbeat_at=stale)
    ReleaseRunFactory(as_of=utc_today() - timedelta(days=2), actor="celery:alive")  # heartbeat fresh
    health = schedule_health()
    assert health.covered and codes(health) == ["STUCK_RUNS"]
    assert [run.actor for run in health.stuck_runs] == ["celery:lost"]


def test_the_schedule_row_signals(avenir):
    release_matured_lots(trigger=ReleaseTrigger.CLI)
    task = PeriodicTask.objects.get(name=SCHEDULE_NAME)
    task.interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    task.crontab = None
    task.last_run_at = timezone.now() - timedelta(minutes=3)
    task.save()
    health = schedule_health()
    assert health.ok
    assert abs((health.next_run_at - (task.last_run_at + timedelta(minutes=10))).total_seconds()) < 2

    task.enabled = False
    task.save()
    health = schedule_health()
    assert health.next_run_at is None and not health.enabled and codes(health) == ["SCHEDULE_DISABLED"]

    PeriodicTask.objects.all().delete()
    code, text = status()
    assert code == 1 and "(MISSING)" in text and "setup_avenir_schedule" in text and "SCHEDULE_MISSING" in text


def test_selected_lots_and_failed_runs_do_not_count_as_coverage(avenir):
    deposit = DepositFactory(release_day=utc_today())
    release_matured_lots(lot_ids=[deposit.lot_id], trigger=ReleaseTrigger.ADMIN, actor="admin:ops")
    assert schedule_health().covered is False
    ReleaseRun.objects.update(selected_lots_count=None, status=RunStatus.FAILED)
    assert schedule_health().covered is False
