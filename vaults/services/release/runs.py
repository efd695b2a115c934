"""The run guard and the run records (one row per real run)."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import structlog
from django.db import DatabaseError, connection
from django.utils import timezone

from vaults.models import ReleaseRun, RunStatus
from vaults.services.release.context import RunContext
from vaults.services.release.results import ReleaseSummary

log = structlog.get_logger("vaults.release")


@contextmanager
def run_guard(*, as_of: date, currency: str) -> Iterator[bool]:
    """A PostgreSQL session advisory lock per (as_of, currency): two beats, a redelivered
    message or a manual run at the same moment give one real run; the other gets False.
    (Lots are never released twice in any case: the guard avoids duelling runs.)"""
    key = f"avenir-vesting-release:{currency}:{as_of.isoformat()}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
            except DatabaseError:  # a dead connection: the lock went with its session
                log.warning("could not release the run guard", exc_info=True)


def start_run(ctx: RunContext, *, trigger: str, actor: str, task_id: str) -> ReleaseRun:
    return ReleaseRun.objects.create(
        trace_id=ctx.trace_id,
        vault=ctx.vault,
        as_of=ctx.as_of,
        currency=ctx.vault.currency,
        trigger=trigger,
        actor=actor[:150],
        task_id=task_id,
        selected_lots_count=len(ctx.lot_ids) if ctx.lot_ids is not None else None,
        started_at=timezone.now(),
    )


def finish_run(run_id: int, summary: ReleaseSummary) -> None:
    """The counts are already on the row: each chunk added its own when it committed."""
    ReleaseRun.objects.filter(pk=run_id).update(
        finished_at=timezone.now(),
        status=RunStatus.COMPLETED_WITH_ERRORS if summary.errors_count else RunStatus.SUCCEEDED,
        exit_code=summary.exit_code,
        summary=summary.to_runbook_json(),
    )


def fail_run(run_id: int, exc: BaseException) -> None:
    """Record a run that crashed; what its committed chunks released stays released,
    and the row already counts it."""
    if connection.needs_rollback or connection.in_atomic_block:
        return  # inside a broken outer transaction: nothing can be written now
    ReleaseRun.objects.filter(pk=run_id).update(
        finished_at=timezone.now(),
        status=RunStatus.FAILED,
        exit_code=1,
        error=f"{type(exc).__name__}: {exc}"[:2000],
    )
