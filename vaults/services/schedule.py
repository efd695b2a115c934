"""The daily release schedule, stored in the database through django-celery-beat.

- `ensure_avenir_schedule` (a service) creates the PeriodicTask when it is missing.
  The data migration 0003 and `manage.py setup_avenir_schedule` (run by every
  deploy) both call it. It never touches an existing row: the time, `enabled` and
  the kwargs belong to the operators once the row exists (edited in the admin).
- `schedule_health` (a selector, read-only) reports the next run, the last
  successful run and alerts; `manage.py avenir_schedule_status` and the admin show it.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from celery.schedules import crontab
from django.apps import apps as global_apps
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from kombu.utils.json import loads

from vaults.models import ReleaseRun, RunStatus

SCHEDULE_NAME = "avenir_vesting_release"
TASK_NAME = "vaults.tasks.release_avenir_vesting"
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


@dataclass(frozen=True)
class ScheduleSetup:
    created: bool
    name: str
    periodic_task_id: int


def ensure_avenir_schedule(*, apps=global_apps) -> ScheduleSetup:
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


# --- health (read-only) --------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    trace_id: str
    as_of: date
    currency: str
    trigger: str
    actor: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    executed_count: int

    @classmethod
    def of(cls, run: ReleaseRun) -> "RunInfo":
        return cls(
            trace_id=run.trace_id,
            as_of=run.as_of,
            currency=run.currency,
            trigger=run.trigger,
            actor=run.actor,
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            executed_count=run.executed_count,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "trigger": self.trigger,
            "actor": self.actor,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "executed_count": self.executed_count,
        }


@dataclass(frozen=True)
class ScheduleHealth:
    checked_at: datetime
    name: str
    exists: bool
    enabled: bool
    schedule: str  # e.g. "5 0 * * * (UTC)"
    kwargs: dict[str, Any]
    currency: str
    next_run_at: datetime | None  # None when missing or disabled
    last_dispatched_at: datetime | None  # beat's last dispatch, as beat last saved it
    last_success: RunInfo | None
    last_run: RunInfo | None
    required_day: date  # yesterday's UTC date: a successful run must cover it
    covered: bool
    stale_runs: tuple[RunInfo, ...]
    alerts: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.alerts

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "checked_at": iso(self.checked_at),
            "name": self.name,
            "exists": self.exists,
            "enabled": self.enabled,
            "schedule": self.schedule,
            "kwargs": self.kwargs,
            "currency": self.currency,
            "next_run_at": iso(self.next_run_at),
            "last_dispatched_at": iso(self.last_dispatched_at),
            "last_success": self.last_success.to_json() if self.last_success else None,
            "last_run": self.last_run.to_json() if self.last_run else None,
            "required_day": self.required_day.isoformat(),
            "covered": self.covered,
            "stale_runs": [run.to_json() for run in self.stale_runs],
            "alerts": list(self.alerts),
            "ok": self.ok,
            "exit_code": self.exit_code,
        }


def find_schedule():
    """The AVENIR PeriodicTask: by name, else (renamed by an operator) by task path."""
    from django_celery_beat.models import PeriodicTask

    qs = PeriodicTask.objects.select_related("crontab", "interval", "solar", "clocked")
    return qs.filter(name=SCHEDULE_NAME).first() or qs.filter(task=TASK_NAME).order_by("id").first()


def _describe(task) -> str:
    if task.crontab_id:
        c = task.crontab
        return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week} ({c.timezone})"
    return str(task.interval or task.solar or task.clocked)


def _next_run(task, now: datetime) -> datetime:
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


def schedule_health(*, now: datetime | None = None) -> ScheduleHealth:
    """Is the daily release scheduled, and did a successful real run cover yesterday's UTC date?

    A run covers day D when it released everything with release_day <= as_of for
    as_of >= D (a run for today covers yesterday). Runs limited to selected lots do not count.
    """
    now = now or datetime.now(UTC)
    required_day = now.astimezone(UTC).date() - timedelta(days=1)
    task = find_schedule()
    alerts: list[str] = []
    kwargs: dict[str, Any] = {}
    if task is None:
        alerts.append(f"the periodic task {SCHEDULE_NAME!r} does not exist: run `manage.py setup_avenir_schedule`")
    else:
        try:
            kwargs = loads(task.kwargs or "{}")
        except ValueError:
            alerts.append(f"the periodic task {task.name!r} has invalid kwargs {task.kwargs!r}")
        if not task.enabled:
            alerts.append(f"the periodic task {task.name!r} is disabled: no release will run")
    currency = str(kwargs.get("currency", DEFAULT_CURRENCY)).upper()

    runs = ReleaseRun.objects.filter(currency=currency)
    full_runs = runs.filter(selected_lots_count__isnull=True)
    last_success = full_runs.filter(status=RunStatus.SUCCEEDED).order_by("-as_of", "-started_at").first()
    covered = last_success is not None and last_success.as_of >= required_day
    if not covered:
        alerts.append(
            f"no successful release run covers {required_day.isoformat()} (UTC) for {currency}: "
            "run `manage.py release_avenir_vesting` (missed days are caught up)"
        )
    # A worker killed mid-run leaves its row RUNNING: flag it once it outlives the hard time limit.
    stale_after = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    stale = tuple(
        RunInfo.of(run) for run in runs.filter(status=RunStatus.RUNNING, started_at__lt=now - stale_after)[:20]
    )
    if stale:
        alerts.append(f"{len(stale)} run(s) still RUNNING after {stale_after}: the worker probably died")

    return ScheduleHealth(
        checked_at=now,
        name=task.name if task else SCHEDULE_NAME,
        exists=task is not None,
        enabled=bool(task and task.enabled),
        schedule=_describe(task) if task else "",
        kwargs=kwargs,
        currency=currency,
        next_run_at=_next_run(task, now) if task is not None and task.enabled else None,
        last_dispatched_at=task.last_run_at if task else None,
        last_success=RunInfo.of(last_success) if last_success else None,
        last_run=RunInfo.of(run) if (run := runs.order_by("-started_at").first()) else None,
        required_day=required_day,
        covered=covered,
        stale_runs=stale,
        alerts=tuple(alerts),
    )
