"""Celery tasks of the vaults app. Beat sends `release_avenir_vesting` from the
database schedule (django-celery-beat, see vaults/services/schedule.py)."""

from datetime import date
from typing import Any

import structlog
from celery import shared_task

from ledger.currencies import check_currency
from vaults.exceptions import USAGE_ERRORS, InvalidRelease
from vaults.models import ReleaseTrigger
from vaults.services.release import release_matured_lots
from vaults.services.schedule import SELECTED_LOTS_TASK_NAME, TASK_NAME
from vaults.verification import verify_ledger

log = structlog.get_logger("vaults.tasks")


def parse_task_kwargs(
    *, currency: Any, as_of: Any, dry_run: Any, unknown: dict[str, Any]
) -> tuple[str, date | None, bool]:
    """The schedule's kwargs are JSON typed by an operator in the admin: read them strictly.
    `{"dry_run": "false"}` must not become a silent dry run every day."""
    if unknown:
        raise InvalidRelease(
            f"unknown task argument(s) {', '.join(sorted(unknown))}; expected currency, as_of, dry_run"
        )
    if not isinstance(dry_run, bool):
        raise InvalidRelease(f"dry_run must be a JSON boolean (true or false), not {dry_run!r}")
    if not isinstance(currency, str):
        raise InvalidRelease(f'currency must be a string such as "AED", not {currency!r}')
    if as_of is not None and not isinstance(as_of, str):
        raise InvalidRelease(f'as_of must be null or a date "YYYY-MM-DD", not {as_of!r}')
    try:
        day = date.fromisoformat(as_of) if as_of is not None else None
    except ValueError:
        raise InvalidRelease(f'as_of must be null or a date "YYYY-MM-DD", not {as_of!r}') from None
    return check_currency(currency.upper()), day, dry_run


@shared_task(bind=True, name=TASK_NAME, acks_late=True, ignore_result=True)
def release_avenir_vesting(
    self, currency: Any = "AED", as_of: Any = None, dry_run: Any = False, **unknown: Any
) -> dict:
    """Release the AVENIR lots matured on or before `as_of` (ISO date; None = today's UTC date
    by the database's clock when the task executes, so a late or redelivered message still
    releases everything due).

    Idempotent: a lot is released at most once, and a second run for the same (date,
    currency) while one is alive returns at once with already_running=true (the run lease).
    Bad kwargs are refused before anything is done: logged, raised, never retried.
    After a real run the ledger's invariants are verified (verify_ledger); a violation is
    logged as an error.
    A failure is logged here, recorded as FAILED in the run history by the service, and
    re-raised so Celery reports the task as failed too.
    """
    task_id = self.request.id or ""
    with structlog.contextvars.bound_contextvars(task_id=task_id, task=self.name):
        try:
            code, day, dry = parse_task_kwargs(currency=currency, as_of=as_of, dry_run=dry_run, unknown=unknown)
            summary = release_matured_lots(
                currency=code,
                as_of=day,
                dry_run=dry,
                trigger=ReleaseTrigger.SCHEDULE,
                actor=f"celery:{task_id}",
                task_id=task_id,
            )
        except USAGE_ERRORS as exc:
            # Bad kwargs (edited in the admin?): retrying cannot help.
            log.error("release task refused", error=str(exc), kwargs=_shown(currency, as_of, dry_run, unknown))
            raise
        except Exception:
            log.exception("release task failed", currency=currency, as_of=as_of)
            raise
        if not summary.dry_run and not summary.already_running:
            _verify_after_release(code)
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


@shared_task(bind=True, name=SELECTED_LOTS_TASK_NAME, acks_late=True, ignore_result=True)
def release_selected_avenir_lots(self, currency: Any, lot_ids: Any, actor: Any) -> dict:
    """Release an admin selection too large for a web request (AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS).
    The same service as every other caller: the run row shows its progress chunk by chunk."""
    task_id = self.request.id or ""
    with structlog.contextvars.bound_contextvars(task_id=task_id, task=self.name):
        try:
            if not isinstance(currency, str):
                raise InvalidRelease(f'currency must be a string such as "AED", not {currency!r}')
            if not isinstance(actor, str) or not actor:
                raise InvalidRelease(f"actor must name who asked for the release, not {actor!r}")
            if (
                not isinstance(lot_ids, list)
                or not lot_ids
                or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in lot_ids)
            ):
                raise InvalidRelease("lot_ids must be a non-empty list of lot ids")
            summary = release_matured_lots(
                currency=check_currency(currency.upper()),
                lot_ids=lot_ids,
                trigger=ReleaseTrigger.ADMIN,
                actor=actor,
                task_id=task_id,
            )
        except USAGE_ERRORS as exc:
            log.error("release task refused", error=str(exc), currency=currency, actor=actor)
            raise
        except Exception:
            log.exception("release task failed", currency=currency, actor=actor)
            raise
        log.info(
            "selected lots released",
            trace_id=summary.trace_id,
            run_id=summary.run_id,
            executed_count=summary.executed_count,
            errors_count=summary.errors_count,
            already_running=summary.already_running,
        )
        return summary.to_runbook_json()


def _verify_after_release(currency: str) -> None:
    """Every ledger invariant, checked after each scheduled release: a violation is logged
    as an error for the alerting on these logs. It never undoes or fails the release."""
    try:
        verification = verify_ledger(currency=currency)
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


def _shown(currency: Any, as_of: Any, dry_run: Any, unknown: dict[str, Any]) -> str:
    return repr({"currency": currency, "as_of": as_of, "dry_run": dry_run, **unknown})
