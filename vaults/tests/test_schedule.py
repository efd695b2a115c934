"""The daily schedule in the database: created by migrate / the deploy command, never
overwriting operators' edits."""

import importlib
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from vancelian.celery import app as celery_app
from vaults.services.schedule import (
    CATCH_UP_NAME,
    CATCH_UP_TASK_NAME,
    SCHEDULE_NAME,
    TASK_NAME,
    ensure_avenir_schedule,
)

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
def test_migrate_created_the_catch_up_every_30_seconds_with_messages_that_expire():
    """Half the lease: a dead run's day resumes within 30 s of its lease expiring; a stopped
    worker finds no backlog of checks."""
    task = PeriodicTask.objects.select_related("interval").get(name=CATCH_UP_NAME)
    assert task.task == CATCH_UP_TASK_NAME and task.enabled
    assert (task.interval.every, task.interval.period) == (30, "seconds")
    assert task.expire_seconds == 30
    assert json.loads(task.kwargs) == {"currency": "AED"}
    assert task.crontab is None and task.solar is None and task.clocked is None


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
