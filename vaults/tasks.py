"""Celery tasks of the vaults app. Beat sends `release_avenir_vesting` from the
database schedule (django-celery-beat, see vaults/services/schedule.py); the admin sends
`release_selected_avenir_lots` for a selection too large for a web request.

Both read their kwargs strictly (they are JSON, typed by hand in the admin for the
schedule), call the one release service, verify the ledger after a real run (and record
the result for /metrics), and log. The scheduled one also checks in with the dead man's
switch (vaults.monitoring.checkin), when one is configured.
A refusal or a failure is logged, recorded by the service where a run started, and
re-raised so Celery reports the task as failed; it is never retried.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

import structlog
from celery import shared_task

from ledger.currencies import check_currency
from vaults.exceptions import USAGE_ERRORS, InvalidRelease
from vaults.models import ReleaseTrigger, VerificationTrigger
from vaults.monitoring.checkin import checked_in
from vaults.services.release import release_matured_lots
from vaults.services.schedule import SELECTED_LOTS_TASK_NAME, TASK_NAME
from vaults.services.verification_records import verify_and_record

log = structlog.get_logger("vaults.tasks")


def parse_task_kwargs(*, currency: Any, as_of: Any, dry_run: Any, unknown: dict[str, Any]) -> dict[str, Any]:
    """The schedule's kwargs. `{"dry_run": "false"}` must not become a silent dry run every day."""
    if unknown:
        raise InvalidRelease(
            f"unknown task argument(s) {', '.join(sorted(unknown))}; expected currency, as_of, dry_run"
        )
    if not isinstance(dry_run, bool):
        raise InvalidRelease(f"dry_run must be a JSON boolean (true or false), not {dry_run!r}")
    if as_of is not None and not isinstance(as_of, str):
        raise InvalidRelease(f'as_of must be null or a date "YYYY-MM-DD", not {as_of!r}')
    try:
        day = date.fromisoformat(as_of) if as_of is not None else None
    except ValueError:
        raise InvalidRelease(f'as_of must be null or a date "YYYY-MM-DD", not {as_of!r}') from None
    return {"currency": _currency(currency), "as_of": day, "dry_run": dry_run}


def parse_selection_kwargs(*, currency: Any, lot_ids: Any, actor: Any) -> dict[str, Any]:
    """The admin's kwargs for a selection released in the background."""
    if not isinstance(actor, str) or not actor:
        raise InvalidRelease(f"actor must name who asked for the release, not {actor!r}")
    if (
        not isinstance(lot_ids, list)
        or not lot_ids
        or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in lot_ids)
    ):
        raise InvalidRelease("lot_ids must be a non-empty list of lot ids")
    return {"currency": _currency(currency), "lot_ids": lot_ids, "actor": actor}


@shared_task(bind=True, name=TASK_NAME, acks_late=True, ignore_result=True)
@checked_in  # the dead man's switch: /start, then success or /fail (when a check-in URL is set)
def release_avenir_vesting(
    self, currency: Any = "AED", as_of: Any = None, dry_run: Any = False, **unknown: Any
) -> dict:
    """Release the AVENIR lots matured on or before `as_of` (ISO date; None = today's UTC date
    by the database's clock when the task executes, so a late or redelivered message still
    releases everything due).

    Idempotent: a lot is released at most once, and a second run for the same (date,
    currency) while one is alive returns at once with already_running=true (the run lease).
    """
    return _release(
        self,
        ReleaseTrigger.SCHEDULE,
        lambda: parse_task_kwargs(currency=currency, as_of=as_of, dry_run=dry_run, unknown=unknown),
        shown={"currency": currency, "as_of": as_of, "dry_run": dry_run, **unknown},
    )


@shared_task(bind=True, name=SELECTED_LOTS_TASK_NAME, acks_late=True, ignore_result=True)
def release_selected_avenir_lots(self, currency: Any, lot_ids: Any, actor: Any) -> dict:
    """Release an admin selection too large for a web request (AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS);
    its run row shows the progress chunk by chunk."""
    return _release(
        self,
        ReleaseTrigger.ADMIN,
        lambda: parse_selection_kwargs(currency=currency, lot_ids=lot_ids, actor=actor),
        shown={"currency": currency, "lots": len(lot_ids) if isinstance(lot_ids, list) else lot_ids, "actor": actor},
    )


def _release(task, trigger: str, parse: Callable[[], dict[str, Any]], *, shown: dict[str, Any]) -> dict:
    task_id = task.request.id or ""
    with structlog.contextvars.bound_contextvars(task_id=task_id, task=task.name):
        try:
            options = parse()
            options.setdefault("actor", f"celery:{task_id}")
            summary = release_matured_lots(**options, trigger=trigger, task_id=task_id)
        except USAGE_ERRORS as exc:
            log.error("release task refused", error=str(exc), kwargs=repr(shown))
            raise
        except Exception:
            log.exception("release task failed", kwargs=repr(shown))
            raise
        if not summary.dry_run and not summary.already_running:
            _verify_after_release(summary.currency, summary.trace_id)
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
        return summary.to_runbook_json()


def _currency(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidRelease(f'currency must be a string such as "AED", not {value!r}')
    return check_currency(value.upper())


def _verify_after_release(currency: str, trace_id: str) -> None:
    """Every ledger invariant, checked after each real release and recorded for /metrics: a
    violation is logged as an error and alerts. It never undoes or fails the release."""
    try:
        verification = verify_and_record(
            currency=currency, trigger=VerificationTrigger.AFTER_RELEASE, actor="celery", trace_id=trace_id
        )
    except Exception:
        log.exception("ledger verification could not run after the release", currency=currency)
        return
    if verification.ok:
        log.info("ledger verified after the release", currency=currency, seconds=round(verification.seconds, 3))
        return
    log.error(
        "LEDGER INVARIANT VIOLATED after the release: run `manage.py verify_ledger`",
        currency=currency,
        violations=verification.violations,
        checks=[check.name for check in verification.failed],
    )
