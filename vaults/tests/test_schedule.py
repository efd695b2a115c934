"""The daily schedule in the database: created by migrate / the deploy command, never
overwriting operators' edits; and the schedule health report (avenir_schedule_status)."""

import importlib
import json
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from vancelian.celery import app as celery_app
from vaults.models import ReleaseRun, ReleaseTrigger, RunStatus
from vaults.services.release import release_matured_lots, utc_today
from vaults.services.schedule import SCHEDULE_NAME, TASK_NAME, ensure_avenir_schedule, schedule_health
from vaults.tests.factories import DepositFactory

MIGRATION = "0003_avenir_schedule"


def snapshot(task: PeriodicTask) -> dict:
    task.refresh_from_db()
    return {
        "name": task.name,
        "task": task.task,
        "enabled": task.enabled,
        "kwargs": task.kwargs,
        "crontab": (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)),
        "description": task.description,
    }


def rerun_data_migration() -> None:
    """Execute 0003's forward function again, with the historical models migrate gives it."""
    state = MigrationLoader(connection).project_state(("vaults", MIGRATION))
    module = importlib.import_module(f"vaults.migrations.{MIGRATION}")
    module.create_schedule(state.apps, None)


@pytest.mark.django_db
def test_migrate_created_the_daily_schedule():
    # Non-transactional tests run first (pytest-django), on the tables migrate filled.
    task = PeriodicTask.objects.get(name=SCHEDULE_NAME)
    assert task.task == TASK_NAME
    celery_app.loader.import_default_modules()  # what a worker does at start (autodiscovery)
    assert task.task in celery_app.tasks  # the path resolves to a registered task
    assert task.enabled
    assert json.loads(task.kwargs) == {"currency": "AED"}
    assert json.loads(task.args or "[]") == []
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week) == (
        "5",
        "0",
        "*",
        "*",
        "*",
    )
    assert str(cron.timezone) == "UTC"
    assert task.interval is None and task.solar is None and task.clocked is None
    assert PeriodicTasks.last_change() is not None  # beat is told to (re)load
    # The schedule lives only in the database.
    assert all(entry["task"] != TASK_NAME for entry in (celery_app.conf.beat_schedule or {}).values())


@pytest.mark.django_db
def test_operator_edits_survive_setup_and_migrations():
    task = PeriodicTask.objects.get(name=SCHEDULE_NAME)
    # An operator edits it in the admin: another time, disabled, another currency.
    task.crontab = CrontabSchedule.objects.create(minute="30", hour="2", timezone="UTC")
    task.enabled = False
    task.kwargs = json.dumps({"currency": "EUR"})
    task.description = "moved by ops"
    task.save()
    before = snapshot(task)

    call_command("setup_avenir_schedule", stdout=(out := _Out()))
    assert "left unchanged" in out.text
    rerun_data_migration()
    call_command("migrate", verbosity=0)

    assert snapshot(task) == before
    assert PeriodicTask.objects.filter(task=TASK_NAME).count() == 1


@pytest.mark.django_db
def test_setup_recreates_a_missing_schedule_and_notifies_beat():
    PeriodicTask.objects.all().delete()
    PeriodicTasks.objects.filter(ident=1).update(last_update=timezone.now() - timedelta(days=1))
    before = PeriodicTasks.last_change()

    call_command("setup_avenir_schedule", stdout=(out := _Out()))
    assert "created" in out.text
    task = PeriodicTask.objects.get(name=SCHEDULE_NAME)
    assert task.enabled and str(task.crontab.timezone) == "UTC" and task.crontab.hour == "0"
    assert PeriodicTasks.last_change() > before

    # Second deploy: nothing new.
    assert ensure_avenir_schedule().created is False
    assert PeriodicTask.objects.filter(task=TASK_NAME).count() == 1


@pytest.mark.django_db
def test_a_renamed_schedule_is_not_duplicated():
    PeriodicTask.objects.filter(name=SCHEDULE_NAME).update(name="AVENIR release (ops)")
    setup = ensure_avenir_schedule()
    rerun_data_migration()
    assert setup.created is False and setup.name == "AVENIR release (ops)"
    assert PeriodicTask.objects.filter(task=TASK_NAME).count() == 1


class _Out:
    """A stdout for call_command that keeps the text."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, value: str) -> None:
        self.text += value

    def flush(self) -> None:
        pass


def status(*args: str) -> tuple[int, str]:
    out = _Out()
    try:
        call_command("avenir_schedule_status", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.text
    return 0, out.text


def next_0005_utc(after: datetime) -> datetime:
    today = datetime.combine(after.date(), time(0, 5), tzinfo=UTC)
    return today if after < today else today + timedelta(days=1)


@pytest.mark.django_db
def test_status_alerts_and_exits_1_without_a_run_covering_yesterday(avenir):
    code, text = status()
    assert code == 1
    assert "ALERT: no successful release run covers" in text
    assert (utc_today() - timedelta(days=1)).isoformat() in text

    # A run for the day before yesterday does not cover yesterday.
    DepositFactory(release_day=utc_today() - timedelta(days=2))
    release_matured_lots(as_of=utc_today() - timedelta(days=2), trigger=ReleaseTrigger.SCHEDULE)
    code, payload = status("--json")
    report = json.loads(payload)
    assert code == 1 and report["covered"] is False and report["ok"] is False
    assert report["last_success"]["as_of"] == (utc_today() - timedelta(days=2)).isoformat()


@pytest.mark.django_db
def test_status_ok_after_a_successful_run_for_today(avenir):
    DepositFactory(release_day=utc_today() - timedelta(days=1))
    summary = release_matured_lots(trigger=ReleaseTrigger.SCHEDULE, actor="celery:test")
    assert summary.executed_count == 1

    health = schedule_health()
    assert health.ok and health.covered and health.exit_code == 0
    assert health.last_success.trace_id == summary.trace_id
    assert health.last_success.trigger == "schedule"
    assert health.schedule == "5 0 * * * (UTC)" and health.enabled
    task = PeriodicTask.objects.get(name=SCHEDULE_NAME)
    assert health.next_run_at == next_0005_utc(task.date_changed)

    code, payload = status("--json")
    assert code == 0
    assert json.loads(payload)["last_success"]["trace_id"] == summary.trace_id
    code, text = status()
    assert code == 0 and text.rstrip().endswith("OK") and summary.trace_id in text


@pytest.mark.django_db
def test_status_next_run_follows_operator_edits(avenir):
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
    assert health.next_run_at is None and not health.enabled
    assert health.exit_code == 1 and any("disabled" in alert for alert in health.alerts)

    PeriodicTask.objects.all().delete()
    code, text = status()
    assert code == 1 and "(MISSING)" in text and "setup_avenir_schedule" in text


@pytest.mark.django_db
def test_selected_lots_and_failed_runs_do_not_count_as_coverage(avenir):
    deposit = DepositFactory(release_day=utc_today())
    release_matured_lots(lot_ids=[deposit.lot_id], trigger=ReleaseTrigger.ADMIN, actor="admin:ops")
    assert schedule_health().covered is False
    ReleaseRun.objects.update(selected_lots_count=None, status=RunStatus.FAILED)
    assert schedule_health().covered is False


@pytest.mark.django_db
def test_status_flags_a_run_stuck_running(avenir, settings):
    release_matured_lots(trigger=ReleaseTrigger.SCHEDULE)  # covered: only the stuck run alerts
    ReleaseRun.objects.create(
        trace_id="job-avenir-vesting-20000101-deadbeef",
        vault=avenir,
        as_of=utc_today(),
        currency="AED",
        trigger=ReleaseTrigger.SCHEDULE,
        actor="celery:lost",
        started_at=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60),
    )
    health = schedule_health()
    assert health.covered and not health.ok
    assert [run.actor for run in health.stale_runs] == ["celery:lost"]
