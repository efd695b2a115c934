"""The daily release schedule and its catch-up, stored in the database through
django-celery-beat.

- `ensure_avenir_schedule` (a service) creates the daily PeriodicTask when it is missing,
  and `ensure_catch_up_schedule` the catch-up one (every 30 s: it finishes a day whose
  run did not, see vaults/services/release/catch_up.py). Data migrations and
  `manage.py setup_avenir_schedule` (run by every deploy) call them. They never touch an
  existing row: the time, `enabled` and the kwargs belong to the operators once the row
  exists (edited in the admin).
- `find_schedule`, `find_catch_up`, `describe_schedule`, `next_run_at` and `first_run_after`
  read those rows; the health report built on them is in vaults/selectors/schedule_health.py.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from celery.schedules import crontab
from django.apps import apps as global_apps
from django.db import transaction
from django.db.models import Q

SCHEDULE_NAME = "avenir_vesting_release"
TASK_NAME = "vaults.tasks.release_avenir_vesting"
# Not scheduled: the admin sends it for a selection too large to release inside a request.
SELECTED_LOTS_TASK_NAME = "vaults.tasks.release_selected_avenir_lots"
# Not scheduled either: the admin sends it for a reversal too large for a request.
REVERSAL_TASK_NAME = "vaults.tasks.reverse_avenir_releases"
DEFAULT_CURRENCY = "AED"
# 00:05 UTC every day, as in the runbook's crontab.
DEFAULT_CRONTAB = {
    "minute": "5",
    "hour": "0",
    "day_of_week": "*",
    "day_of_month": "*",
    "month_of_year": "*",
}
SCHEDULE_TIMEZONE = "UTC"
DEFAULT_KWARGS = '{"currency": "AED"}'
DESCRIPTION = (
    "Daily AVENIR vesting release (release_day <= as_of, so missed days are caught up). "
    "Created by the deploy only when missing: edits made here are kept."
)
CATCH_UP_NAME = "avenir_vesting_catch_up"
CATCH_UP_TASK_NAME = "vaults.tasks.catch_up_avenir_vesting"
# Half the lease: a dead run's day resumes at most 30 s after its lease expires, so a killed
# worker's day (lease + this + the rest of the day) finishes within 3 minutes even at 1,000,000
# lots. A check with nothing to do is a few indexed reads.
CATCH_UP_EVERY_SECONDS = 30
CATCH_UP_DESCRIPTION = (
    "Every 30 seconds: when the day's release is due, lots are still pending and no live run holds the "
    "lease (its worker died, it gave up), finishes the day with a run of its own. A check with nothing "
    "to do records no run. Messages expire after 30 seconds, so a stopped worker finds no backlog. "
    "Created by the deploy only when missing: edits made here are kept."
)


@dataclass(frozen=True)
class ScheduleSetup:
    created: bool
    name: str
    periodic_task_id: int
    catch_up: "ScheduleSetup | None" = None  # the daily schedule's catch-up, ensured with it


def ensure_avenir_schedule(*, apps=global_apps) -> ScheduleSetup:
    """The daily PeriodicTask and its catch-up, each created when missing (see below)."""
    daily = _ensure_daily_schedule(apps=apps)
    return replace(daily, catch_up=ensure_catch_up_schedule(apps=apps))


def _ensure_daily_schedule(*, apps=global_apps) -> ScheduleSetup:
    """Create the AVENIR PeriodicTask (crontab 5 0 * * * UTC, kwargs {"currency": "AED"}) if missing.

    `apps` is the migration's app registry when called from a data migration (historical
    models), the global one otherwise. The task counts as present when a row has our name
    or runs our task, so an operator who renamed it does not get a second one.
    """
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    with transaction.atomic():
        # Serialise concurrent deploys (two `migrate` containers): the second waits, then sees the row.
        list(PeriodicTasks.objects.select_for_update().filter(ident=1))
        existing = PeriodicTask.objects.filter(Q(name=SCHEDULE_NAME) | Q(task=TASK_NAME)).order_by("id").first()
        if existing is not None:
            return ScheduleSetup(created=False, name=existing.name, periodic_task_id=existing.pk)
        crontab = CrontabSchedule.objects.filter(**DEFAULT_CRONTAB, timezone=SCHEDULE_TIMEZONE).order_by("id").first()
        if crontab is None:
            crontab = CrontabSchedule.objects.create(**DEFAULT_CRONTAB, timezone=SCHEDULE_TIMEZONE)
        task = PeriodicTask.objects.create(
            name=SCHEDULE_NAME,
            task=TASK_NAME,
            crontab=crontab,
            kwargs=DEFAULT_KWARGS,
            enabled=True,
            description=DESCRIPTION,
        )
        # Tell a running beat to reload (what PeriodicTasks.update_changed() does; historical
        # models have no custom methods and model.save() signals are not sent by them).
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": datetime.now(UTC)})
    return ScheduleSetup(created=True, name=task.name, periodic_task_id=task.pk)


def ensure_catch_up_schedule(*, apps=global_apps) -> ScheduleSetup:
    """Create the catch-up PeriodicTask (every CATCH_UP_EVERY_SECONDS, kwargs {"currency":
    "AED"}, messages expiring after one interval) if missing; like ensure_avenir_schedule."""
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    with transaction.atomic():
        list(PeriodicTasks.objects.select_for_update().filter(ident=1))
        existing = (
            PeriodicTask.objects.filter(Q(name=CATCH_UP_NAME) | Q(task=CATCH_UP_TASK_NAME)).order_by("id").first()
        )
        if existing is not None:
            return ScheduleSetup(created=False, name=existing.name, periodic_task_id=existing.pk)
        every = IntervalSchedule.objects.filter(every=CATCH_UP_EVERY_SECONDS, period="seconds").order_by("id").first()
        if every is None:
            every = IntervalSchedule.objects.create(every=CATCH_UP_EVERY_SECONDS, period="seconds")
        task = PeriodicTask.objects.create(
            name=CATCH_UP_NAME,
            task=CATCH_UP_TASK_NAME,
            interval=every,
            kwargs=DEFAULT_KWARGS,
            enabled=True,
            expire_seconds=CATCH_UP_EVERY_SECONDS,
            description=CATCH_UP_DESCRIPTION,
        )
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": datetime.now(UTC)})
    return ScheduleSetup(created=True, name=task.name, periodic_task_id=task.pk)


def find_schedule():
    """The AVENIR PeriodicTask: by name, else (renamed by an operator) by task path."""
    from django_celery_beat.models import PeriodicTask

    qs = PeriodicTask.objects.select_related("crontab", "interval", "solar", "clocked")
    return qs.filter(name=SCHEDULE_NAME).first() or qs.filter(task=TASK_NAME).order_by("id").first()


def find_catch_up():
    """The catch-up PeriodicTask: by name, else (renamed) by task path."""
    from django_celery_beat.models import PeriodicTask

    qs = PeriodicTask.objects.select_related("crontab", "interval", "solar", "clocked")
    return qs.filter(name=CATCH_UP_NAME).first() or qs.filter(task=CATCH_UP_TASK_NAME).order_by("id").first()


def first_run_after(task, moment: datetime) -> datetime | None:
    """When a crontab schedule fires first after `moment` (UTC); None for other kinds."""
    schedule = task.schedule
    if not isinstance(schedule, crontab):
        return None
    start, ends_in, _ = schedule.remaining_delta(moment.astimezone(schedule.tz))
    return (start + ends_in).astimezone(UTC)


def describe_schedule(task) -> str:
    if task.crontab_id:
        c = task.crontab
        return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week} ({c.timezone})"
    return str(task.interval or task.solar or task.clocked)


def next_run_at(task, now: datetime) -> datetime:
    """When beat dispatches next, computed as beat does: from last_run_at, else date_changed."""
    last = (task.last_run_at or task.date_changed or now).astimezone(UTC)
    schedule = task.schedule
    if isinstance(schedule, crontab):
        start, ends_in, _ = schedule.remaining_delta(last.astimezone(schedule.tz))
        upcoming = start + ends_in
    else:
        upcoming = datetime.now(UTC) + schedule.remaining_estimate(last)
    # In the past means overdue (beat was down, or the row was just edited): sent on beat's next tick.
    return max(upcoming.astimezone(UTC), now)
