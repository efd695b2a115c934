"""Is anything late? The read-only health report behind `manage.py avenir_schedule_status`.

Each signal is reported on its own, so one problem never hides another:
- the schedule row: missing, disabled, unreadable kwargs; the catch-up row: missing, disabled;
- coverage: no finished full run (SUCCEEDED or COMPLETED_WITH_ERRORS) covers yesterday;
- overdue lots: VESTED lots whose release_day is before today (money that is late);
- runs ABANDONED since the last good run (a worker died mid-run);
- runs stuck RUNNING past their lease (dead, not yet taken over);
- a warning, not an alert: lots that failed in the last two finished runs in a row.

The facts themselves (coverage, overdue lots, abandoned and stuck runs) come from
vaults.selectors.runs, which /metrics reads too.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from kombu.utils.json import loads

from ledger.currencies import format_amount
from vaults.models import ReleaseRun
from vaults.selectors.runs import (
    Overdue,
    abandoned_since_last_good,
    covering_runs,
    good_full_runs,
    last_good_run,
    overdue_lots,
    runs_of,
    stuck_runs,
)
from vaults.services.release.clock import database_now
from vaults.services.schedule import (
    CATCH_UP_NAME,
    DEFAULT_CURRENCY,
    SCHEDULE_NAME,
    describe_schedule,
    find_catch_up,
    find_schedule,
    next_run_at,
)

LISTED = 20  # runs and lots listed per signal; the counts stay exact


@dataclass(frozen=True)
class Alert:
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


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
    heartbeat_at: datetime | None
    executed_count: int
    errors_count: int
    error: str

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
            heartbeat_at=run.heartbeat_at,
            executed_count=run.executed_count,
            errors_count=run.errors_count,
            error=run.error,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "trigger": self.trigger,
            "actor": self.actor,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "heartbeat_at": _iso(self.heartbeat_at),
            "executed_count": self.executed_count,
            "errors_count": self.errors_count,
            "error": self.error,
        }


@dataclass(frozen=True)
class RepeatedFailure:
    lot_id: int
    code: str
    message: str
    trace_ids: tuple[str, ...]  # the consecutive runs it failed in, newest first

    def to_json(self) -> dict[str, Any]:
        return {"lot_id": self.lot_id, "code": self.code, "message": self.message, "trace_ids": list(self.trace_ids)}


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
    catch_up_enabled: bool  # the catch-up (every 30 s) exists and is enabled
    last_good: RunInfo | None  # the last finished full run: SUCCEEDED or COMPLETED_WITH_ERRORS
    last_run: RunInfo | None
    required_day: date  # yesterday's UTC date: a good run must cover it
    covered: bool
    overdue: Overdue
    abandoned_runs: tuple[RunInfo, ...]  # since the last good run
    stuck_runs: tuple[RunInfo, ...]  # RUNNING with a heartbeat older than the lease
    repeated_failures: tuple[RepeatedFailure, ...]
    alerts: tuple[Alert, ...]
    warnings: tuple[Alert, ...]

    @property
    def ok(self) -> bool:
        return not self.alerts

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "checked_at": _iso(self.checked_at),
            "name": self.name,
            "exists": self.exists,
            "enabled": self.enabled,
            "schedule": self.schedule,
            "kwargs": self.kwargs,
            "currency": self.currency,
            "next_run_at": _iso(self.next_run_at),
            "last_dispatched_at": _iso(self.last_dispatched_at),
            "catch_up_enabled": self.catch_up_enabled,
            "last_good_run": self.last_good.to_json() if self.last_good else None,
            "last_run": self.last_run.to_json() if self.last_run else None,
            "required_day": self.required_day.isoformat(),
            "covered": self.covered,
            "overdue_lots": self.overdue.to_json(self.currency),
            "abandoned_runs": [run.to_json() for run in self.abandoned_runs],
            "stuck_runs": [run.to_json() for run in self.stuck_runs],
            "repeated_failures": [failure.to_json() for failure in self.repeated_failures],
            "alerts": [alert.to_json() for alert in self.alerts],
            "warnings": [warning.to_json() for warning in self.warnings],
            "ok": self.ok,
            "exit_code": self.exit_code,
        }


def schedule_health(*, now: datetime | None = None) -> ScheduleHealth:
    """The health of the daily release, by the database's clock unless `now` is given.

    A run covers day D when it released everything with release_day <= as_of for
    as_of >= D (a run for today covers yesterday). Runs limited to selected lots do not count.
    """
    now = (now or database_now()).astimezone(UTC)
    today = now.date()
    required_day = today - timedelta(days=1)
    alerts: list[Alert] = []
    task = find_schedule()
    kwargs: dict[str, Any] = {}
    if task is None:
        alerts.append(
            Alert(
                "SCHEDULE_MISSING",
                f"the periodic task {SCHEDULE_NAME!r} does not exist: run `manage.py setup_avenir_schedule`",
            )
        )
    else:
        try:
            kwargs = loads(task.kwargs or "{}")
        except ValueError:
            alerts.append(
                Alert("SCHEDULE_KWARGS_INVALID", f"the periodic task {task.name!r} has invalid kwargs {task.kwargs!r}")
            )
        if not task.enabled:
            alerts.append(
                Alert("SCHEDULE_DISABLED", f"the periodic task {task.name!r} is disabled: no release will run")
            )
    currency = str(kwargs.get("currency", DEFAULT_CURRENCY)).upper() if isinstance(kwargs, dict) else DEFAULT_CURRENCY
    catch_up = find_catch_up()
    if catch_up is None:
        alerts.append(
            Alert(
                "CATCH_UP_MISSING",
                f"the periodic task {CATCH_UP_NAME!r} does not exist: a day whose run dies waits for a human; "
                "run `manage.py setup_avenir_schedule`",
            )
        )
    elif not catch_up.enabled:
        alerts.append(
            Alert(
                "CATCH_UP_DISABLED",
                f"the periodic task {catch_up.name!r} is disabled: a day whose run dies waits for a human",
            )
        )

    runs = runs_of(currency=currency)
    last_good = last_good_run(currency=currency)
    covered = covering_runs(currency=currency, day=required_day).exists()
    if not covered:
        alerts.append(
            Alert(
                "NOT_COVERED",
                f"no finished release run covers {required_day.isoformat()} (UTC) for {currency}: "
                "run `manage.py release_avenir_vesting` (missed days are caught up)",
            )
        )

    overdue = overdue_lots(currency=currency, today=today)
    if overdue.count:
        alerts.append(
            Alert(
                "OVERDUE_LOTS",
                f"{overdue.count} {currency} lot(s) ({format_amount(overdue.amount, currency)} {currency}) matured "
                f"before today and are not released; the oldest release_day is {overdue.oldest_release_day}",
            )
        )

    abandoned = abandoned_since_last_good(currency=currency)
    abandoned_runs = tuple(RunInfo.of(run) for run in abandoned.order_by("-started_at")[:LISTED])
    if abandoned_runs:
        alerts.append(
            Alert(
                "ABANDONED_RUNS",
                f"{abandoned.count()} run(s) ABANDONED since the last finished run: a worker died mid-run "
                "(see each run's error; what it committed stays released)",
            )
        )

    lease = timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS)
    stuck = stuck_runs(currency=currency, now=now)
    stuck_listed = tuple(RunInfo.of(run) for run in stuck.order_by("-started_at")[:LISTED])
    if stuck_listed:
        alerts.append(
            Alert(
                "STUCK_RUNS",
                f"{stuck.count()} run(s) RUNNING with no heartbeat for more than {lease}: the worker died; "
                "the next run takes over",
            )
        )

    repeated = _repeated_failures(list(good_full_runs(currency=currency).order_by("-started_at")[:2]))
    warnings = []
    if repeated:
        warnings.append(
            Alert(
                "REPEATED_LOT_FAILURES",
                f"{len(repeated)} lot(s) failed in the last two finished runs in a row: see repeated_failures",
            )
        )

    return ScheduleHealth(
        checked_at=now,
        name=task.name if task else SCHEDULE_NAME,
        exists=task is not None,
        enabled=bool(task and task.enabled),
        schedule=describe_schedule(task) if task else "",
        kwargs=kwargs if isinstance(kwargs, dict) else {},
        currency=currency,
        next_run_at=next_run_at(task, now) if task is not None and task.enabled else None,
        last_dispatched_at=task.last_run_at if task else None,
        catch_up_enabled=bool(catch_up and catch_up.enabled),
        last_good=RunInfo.of(last_good) if last_good else None,
        last_run=RunInfo.of(run) if (run := runs.order_by("-started_at").first()) else None,
        required_day=required_day,
        covered=covered,
        overdue=overdue,
        abandoned_runs=abandoned_runs,
        stuck_runs=stuck_listed,
        repeated_failures=repeated,
        alerts=tuple(alerts),
        warnings=tuple(warnings),
    )


def _repeated_failures(last_two: list[ReleaseRun]) -> tuple[RepeatedFailure, ...]:
    """Lots listed in the errors of both of the last two finished full runs."""
    if len(last_two) < 2:
        return ()
    newest, previous = ({e["lot_id"]: e for e in run.summary.get("summary", {}).get("errors", [])} for run in last_two)
    return tuple(
        RepeatedFailure(
            lot_id=lot_id,
            code=error["code"],
            message=error["message"],
            trace_ids=(last_two[0].trace_id, last_two[1].trace_id),
        )
        for lot_id, error in sorted(newest.items())
        if lot_id in previous
    )[:LISTED]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
