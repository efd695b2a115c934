"""The catch-up: the day's release finishes by itself, without the broker redelivering
anything and without a human.

Beat sends the catch-up task every 30 seconds (its own PeriodicTask). Each check reads a few
index entries and, most of the time, does nothing and records nothing. It starts a run
(trigger `catch_up`) only when all of these hold:
- the daily schedule is enabled (disabling it stops the catch-up too);
- lots matured on or before today are still pending;
- no full run for today has finished (SUCCEEDED or COMPLETED_WITH_ERRORS): lots a finished
  run failed are for an operator to look at, not for a retry every 30 seconds;
- the day is due: a run for today has already started, or today's scheduled time has
  passed by more than a lease (the daily run had every chance to take its lease first);
- no live run holds today's lease (a live run renews it every heartbeat; a dead one's
  lease expires within AVENIR_RELEASE_LEASE_SECONDS, and this run then takes it over).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from django.conf import settings

from vaults.models import GOOD_RUN_STATUSES, ReleaseRun, ReleaseTrigger
from vaults.selectors import get_vault, pending_lots
from vaults.services.release.clock import database_now
from vaults.services.release.entry import release_matured_lots
from vaults.services.release.results import ReleaseSummary
from vaults.services.release.runs import live_lease
from vaults.services.schedule import find_schedule, first_run_after

log = structlog.get_logger("vaults.release")

RELEASED = "released"
NOTHING_PENDING = "nothing_pending"
NOT_DUE = "not_due"
FINISHED = "finished"
RUNNING = "running"
SCHEDULE_OFF = "schedule_off"


@dataclass(frozen=True)
class CatchUp:
    action: str  # one of the constants above
    reason: str
    summary: ReleaseSummary | None = None  # only when a run was started


def catch_up_release(*, currency: str, task_id: str = "", now: datetime | None = None) -> CatchUp:
    """Finish today's release when it is due and nobody is finishing it; see the module."""
    vault = get_vault(currency=currency)
    now = (now or database_now()).astimezone(UTC)
    today = now.date()
    daily = find_schedule()
    if daily is None or not daily.enabled:
        return CatchUp(SCHEDULE_OFF, "the daily release schedule is missing or disabled")
    pending = pending_lots(vault=vault, as_of=today)
    if not pending.exists():
        return CatchUp(NOTHING_PENDING, f"no {currency} lot matured on or before {today} is pending")
    today_runs = ReleaseRun.objects.filter(vault=vault, currency=currency, as_of=today)
    if today_runs.filter(status__in=GOOD_RUN_STATUSES, selected_lots_count__isnull=True).exists():
        return CatchUp(FINISHED, f"a run for {today} finished; the lots it failed are in its errors")
    if not today_runs.exists() and not _scheduled_time_passed(daily, today, now):
        return CatchUp(NOT_DUE, f"today's scheduled release has not had its chance yet ({today})")
    holder = live_lease(vault_id=vault.pk, currency=currency, as_of=today)
    lease = timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS)
    if holder is not None and holder.heartbeat_at is not None and holder.heartbeat_at >= now - lease:
        return CatchUp(RUNNING, f"run {holder.trace_id} holds the lease (last heartbeat {holder.heartbeat_at})")
    log.warning("catching up: lots are pending and no live run holds the lease", currency=currency)
    summary = release_matured_lots(
        currency=currency, as_of=today, trigger=ReleaseTrigger.CATCH_UP, actor=f"catch-up:{task_id}", task_id=task_id
    )
    if summary.already_running:
        return CatchUp(RUNNING, "another run took the lease first")
    return CatchUp(RELEASED, f"run {summary.trace_id} released {summary.executed_count} lot(s)", summary)


def _scheduled_time_passed(daily, today, now: datetime) -> bool:
    """Today's scheduled time (a daily crontab), plus a lease for the run to start, is past."""
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    scheduled = first_run_after(daily, midnight - timedelta(microseconds=1))
    if scheduled is None or scheduled.date() != today:
        return True  # not a daily crontab (an operator's interval): the lots are simply due
    return now >= scheduled + timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS)
