"""Celery tasks of the vaults app. Beat sends `release_avenir_vesting` from the daily
database schedule and `catch_up_avenir_vesting` every 30 seconds (django-celery-beat, see
vaults/services/schedule.py); the admin sends `release_selected_avenir_lots` for a
selection too large for a web request.

They read their kwargs strictly (they are JSON, typed by hand in the admin for the
schedule), call the one release service, verify the ledger after a real run (and record
the result for /metrics), and log. The scheduled one also checks in with the dead man's
switch (vaults.monitoring.checkin), when one is configured.
A refusal is logged and re-raised so Celery reports the task as failed. A run that
loses its database for longer than it waits (AVENIR_RELEASE_RECONNECT_SECONDS) is
retried with backoff, for the same day. The daily task also comes back when it finds a
run that looks dead holding the day's lease, once that lease has expired; and it does
nothing (and records no run) when the day is already released.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

import structlog
from celery import shared_task
from django.conf import settings

from ledger.currencies import check_currency
from vaults.exceptions import USAGE_ERRORS, InvalidRelease, LeaseLost
from vaults.models import GOOD_RUN_STATUSES, ReleaseRun, ReleaseTrigger, VerificationTrigger
from vaults.monitoring.checkin import checked_in
from vaults.selectors import get_vault, pending_lots
from vaults.services.release import release_matured_lots, utc_today
from vaults.services.release.catch_up import catch_up_release
from vaults.services.release.clock import database_now
from vaults.services.release.runs import live_lease
from vaults.services.release.transactions import connection_lost, describe
from vaults.services.reversal import reverse_releases
from vaults.services.schedule import CATCH_UP_TASK_NAME, REVERSAL_TASK_NAME, SELECTED_LOTS_TASK_NAME, TASK_NAME
from vaults.services.verification_records import verify_and_record

log = structlog.get_logger("vaults.tasks")

# A retry after a lost database or a dead lease holder: at most this many, RETRY_DELAY_SECONDS apart
# (doubling up to 5 minutes). The catch-up task is the net under them: it does not need any message.
MAX_RETRIES = 12
RETRY_DELAY_SECONDS = 30


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


def parse_reversal_kwargs(*, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The admin's kwargs for a reversal too large for a web request: JSON, read strictly."""
    expected = {"currency", "run_id", "lot_ids", "as_of", "reason", "release_day", "vesting_days", "actor"}
    if unknown := set(kwargs) - expected:
        raise InvalidRelease(f"unknown task argument(s) {', '.join(sorted(unknown))}")
    actor = kwargs.get("actor")
    if not isinstance(actor, str) or not actor:
        raise InvalidRelease(f"actor must name who asked for the reversal, not {actor!r}")
    options: dict[str, Any] = {"currency": _currency(kwargs.get("currency")), "actor": actor}
    for name in ("run_id", "vesting_days"):
        value = kwargs.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidRelease(f"{name} must be a whole number, not {value!r}")
        options[name] = value
    lot_ids = kwargs.get("lot_ids")
    if lot_ids is not None and (
        not isinstance(lot_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in lot_ids)
    ):
        raise InvalidRelease("lot_ids must be a list of lot ids")
    options["lot_ids"] = lot_ids
    for name in ("as_of", "release_day"):
        value = kwargs.get(name)
        try:
            options[name] = date.fromisoformat(value) if value is not None else None
        except (TypeError, ValueError):
            raise InvalidRelease(f'{name} must be null or a date "YYYY-MM-DD", not {value!r}') from None
    if not isinstance(kwargs.get("reason"), str):
        raise InvalidRelease("reason must be text")
    options["reason"] = kwargs["reason"]
    return options


def parse_catch_up_kwargs(*, currency: Any, unknown: dict[str, Any]) -> str:
    if unknown:
        raise InvalidRelease(f"unknown task argument(s) {', '.join(sorted(unknown))}; expected currency")
    return _currency(currency)


@shared_task(bind=True, name=TASK_NAME, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES)
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


@shared_task(bind=True, name=SELECTED_LOTS_TASK_NAME, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES)
def release_selected_avenir_lots(self, currency: Any, lot_ids: Any, actor: Any) -> dict:
    """Release an admin selection too large for a web request (AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS);
    its run row shows the progress chunk by chunk."""
    return _release(
        self,
        ReleaseTrigger.ADMIN,
        lambda: parse_selection_kwargs(currency=currency, lot_ids=lot_ids, actor=actor),
        shown={"currency": currency, "lots": len(lot_ids) if isinstance(lot_ids, list) else lot_ids, "actor": actor},
    )


@shared_task(bind=True, name=CATCH_UP_TASK_NAME, acks_late=True, ignore_result=True)
def catch_up_avenir_vesting(self, currency: Any = "AED", **unknown: Any) -> dict:
    """Every 30 seconds: finish the day's release if it is due and nobody is finishing it
    (vaults/services/release/catch_up.py). A check with nothing to do records nothing."""
    task_id = self.request.id or ""
    with structlog.contextvars.bound_contextvars(task_id=task_id, task=self.name):
        try:
            checked = catch_up_release(
                currency=parse_catch_up_kwargs(currency=currency, unknown=unknown), task_id=task_id
            )
        except USAGE_ERRORS as exc:
            log.error("catch-up task refused", error=str(exc), kwargs=repr({"currency": currency, **unknown}))
            raise
        except LeaseLost as exc:  # it was frozen past its lease: the run that took over finishes the day
            log.warning("release task stopped: another run took over", error=str(exc))
            return {"action": "taken_over", "error": str(exc), "exit_code": 0}
        except Exception as exc:  # the next check, 30 s later, tries again
            log.error("catch-up check failed", error=describe(exc))
            raise
        if checked.summary is None:
            log.debug("catch-up check: nothing to do", action=checked.action, reason=checked.reason)
            return {"action": checked.action, "reason": checked.reason}
        _after_release(checked.summary)
        return {"action": checked.action, "reason": checked.reason, **checked.summary.to_runbook_json()}


@shared_task(bind=True, name=REVERSAL_TASK_NAME, acks_late=True, ignore_result=True)
def reverse_avenir_releases(self, **kwargs: Any) -> dict:
    """Reverse releases for the admin, when the scope is too large for a web request: the
    same reversal service; its run row shows the progress chunk by chunk. Once only per
    release: a redelivered message finds them reversed and counts them as skipped."""
    task_id = self.request.id or ""
    with structlog.contextvars.bound_contextvars(task_id=task_id, task=self.name):
        try:
            summary = reverse_releases(
                **parse_reversal_kwargs(kwargs=kwargs), trigger=ReleaseTrigger.ADMIN, task_id=task_id
            )
        except USAGE_ERRORS as exc:
            log.error("reversal task refused", error=str(exc), kwargs=repr(kwargs))
            raise
        except Exception:
            log.exception("reversal task failed", kwargs=repr(kwargs))
            raise
        _verify_after_release(summary.currency, summary.trace_id)
        log_method = log.warning if summary.exit_code else log.info
        log_method(
            "reversal task finished",
            trace_id=summary.trace_id,
            run_id=summary.run_id,
            reversed_count=summary.reversed_count,
            errors_count=summary.errors_count,
        )
        return summary.to_json()


def _release(task, trigger: str, parse: Callable[[], dict[str, Any]], *, shown: dict[str, Any]) -> dict:
    task_id = task.request.id or ""
    with structlog.contextvars.bound_contextvars(task_id=task_id, task=task.name):
        options: dict[str, Any] = {}
        try:
            options = parse()
            options.setdefault("actor", f"celery:{task_id}")
            if trigger == ReleaseTrigger.SCHEDULE and not options["dry_run"]:
                options["as_of"] = options["as_of"] or utc_today()  # fixed for any retry
                if _day_released(options["currency"], options["as_of"]):
                    log.info("release task: the day is already released; nothing to do", **_day(options))
                    return {"action": "nothing_to_do", **_day(options), "exit_code": 0}
            summary = release_matured_lots(**options, trigger=trigger, task_id=task_id)
        except USAGE_ERRORS as exc:
            log.error("release task refused", error=str(exc), kwargs=repr(shown))
            raise
        except LeaseLost as exc:
            log.warning("release task stopped: another run took over", error=str(exc))
            return {"action": "taken_over", "error": str(exc), "exit_code": 0}  # the other run finishes the day
        except Exception as exc:
            if connection_lost(exc):
                log.error("release task lost the database; retrying", error=describe(exc), **_day(options))
                raise _retry(task, options, exc=exc) from exc
            log.exception("release task failed", kwargs=repr(shown))
            raise
        if summary.already_running and trigger == ReleaseTrigger.SCHEDULE:
            _retry_after_a_dead_holder(task, options, summary.as_of)
        _after_release(summary)
        return summary.to_runbook_json()


def _after_release(summary) -> None:
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


def _day_released(currency: str, as_of: date) -> bool:
    """A finished full run covers `as_of` and no lot matured by then is pending."""
    vault = get_vault(currency=currency)
    covered = ReleaseRun.objects.filter(
        vault=vault, currency=currency, as_of__gte=as_of, status__in=GOOD_RUN_STATUSES, selected_lots_count__isnull=True
    ).exists()
    return covered and not pending_lots(vault=vault, as_of=as_of).exists()


def _retry_after_a_dead_holder(task, options: dict[str, Any], as_of: date) -> None:
    """The day's lease is held by a run that stopped renewing it (its worker died, and this
    message is its redelivery): come back once that lease expires. A live holder renews
    every heartbeat; it finishes the day itself."""
    holder = live_lease(vault_id=get_vault(currency=options["currency"]).pk, currency=options["currency"], as_of=as_of)
    if holder is None or holder.heartbeat_at is None:
        return
    silent = (database_now() - holder.heartbeat_at).total_seconds()
    if silent <= 2 * settings.AVENIR_RELEASE_HEARTBEAT_SECONDS:
        return
    expires_in = max(1.0, settings.AVENIR_RELEASE_LEASE_SECONDS - silent) + 1
    log.warning("the day's lease holder looks dead; retrying once its lease expires", holder=holder.trace_id)
    raise _retry(task, options, countdown=expires_in)


def _retry(task, options: dict[str, Any], *, exc: BaseException | None = None, countdown: float | None = None):
    """A retry of this task for the same day (as_of fixed), with backoff."""
    kwargs = dict(task.request.kwargs or {})
    if isinstance(options.get("as_of"), date):
        kwargs["as_of"] = options["as_of"].isoformat()
    if countdown is None:
        countdown = min(RETRY_DELAY_SECONDS * 2**task.request.retries, 300)
    return task.retry(kwargs=kwargs, countdown=countdown, exc=exc)


def _day(options: dict[str, Any]) -> dict[str, str]:
    day = options.get("as_of")
    return {"currency": str(options.get("currency", "")), "as_of": day.isoformat() if isinstance(day, date) else ""}


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
