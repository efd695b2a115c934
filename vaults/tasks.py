"""Celery tasks of the vaults app. Beat sends `release_avenir_vesting` from the
database schedule (django-celery-beat, see vaults/services/schedule.py)."""

from datetime import date

import structlog
from celery import shared_task

from vaults.exceptions import USAGE_ERRORS
from vaults.models import ReleaseTrigger
from vaults.services.release import release_matured_lots
from vaults.services.schedule import TASK_NAME

log = structlog.get_logger("vaults.tasks")


@shared_task(bind=True, name=TASK_NAME, acks_late=True, ignore_result=True)
def release_avenir_vesting(self, currency: str = "AED", as_of: str | None = None, dry_run: bool = False) -> dict:
    """Release the AVENIR lots matured on or before `as_of` (ISO date; None = today's UTC date
    when the task executes, so a late or redelivered message still releases everything due).

    Idempotent: a lot is released at most once, and a second concurrent run for the same
    (date, currency) returns at once with already_running=true (advisory lock in the service).
    A failure is logged here, recorded as FAILED in the run history by the service, and
    re-raised so Celery reports the task as failed too.
    """
    task_id = self.request.id or ""
    with structlog.contextvars.bound_contextvars(task_id=task_id, task=self.name):
        try:
            day = date.fromisoformat(as_of) if as_of else None
            summary = release_matured_lots(
                currency=str(currency).upper(),
                as_of=day,
                dry_run=bool(dry_run),
                trigger=ReleaseTrigger.SCHEDULE,
                actor=f"celery:{task_id}",
                task_id=task_id,
            )
        except (ValueError, *USAGE_ERRORS) as exc:
            # Bad kwargs (edited in the admin?): retrying cannot help.
            log.error("release task refused", error=str(exc), currency=currency, as_of=as_of)
            raise
        except Exception:
            log.exception("release task failed", currency=currency, as_of=as_of)
            raise
        result = summary.to_runbook_json()
        log_method = log.warning if summary.already_running or summary.exit_code else log.info
        log_method(
            "release task finished",
            trace_id=summary.trace_id,
            run_id=summary.run_id,
            already_running=summary.already_running,
            executed_count=summary.executed_count,
            errors_count=summary.errors_count,
            exit_code=summary.exit_code,
        )
        return result
