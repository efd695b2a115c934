"""The run records (one row per real run) and the run lease they carry.

The RUNNING row is the lease: a partial unique index allows one per (vault, currency,
as_of). Taking, renewing and giving it back are plain transactional statements on that
row, so they behave the same on a direct connection and through a transaction pooler
(a session advisory lock would not: the pooler moves statements between sessions).
Every timestamp of the lease comes from the database's clock.
"""

from dataclasses import dataclass
from datetime import date

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now

from vaults.models import ReleaseRun, RunStatus
from vaults.services.release.context import RunContext
from vaults.services.release.results import ReleaseSummary, Tally
from vaults.services.release.statements import load_sql

log = structlog.get_logger("vaults.release")

RUNS = ReleaseRun._meta.db_table


class LeaseLost(RuntimeError):
    """Another run took this run's lease over (its heartbeat was too old): stop writing."""


@dataclass(frozen=True)
class AbandonedRun:
    run_id: int
    trace_id: str
    as_of: date
    executed_count: int


@dataclass(frozen=True)
class Lease:
    run_id: int | None  # None: a live run of the same (vault, currency, as_of) holds it
    abandoned: tuple[AbandonedRun, ...]


def take_lease(ctx: RunContext, *, trigger: str, actor: str, task_id: str) -> Lease:
    """Mark the vault's dead runs ABANDONED, then insert this run's RUNNING row if no live
    run holds (vault, currency, as_of). Returns at once either way."""
    lease_seconds = settings.AVENIR_RELEASE_LEASE_SECONDS
    params = {
        "vault_id": ctx.vault.pk,
        "currency": ctx.vault.currency,
        "as_of": ctx.as_of,
        "trace_id": ctx.trace_id,
        "trigger": trigger,
        "actor": actor[:150],
        "task_id": task_id[:64],
        "selected_lots_count": len(ctx.lot_ids) if ctx.lot_ids is not None else None,
        "lease_seconds": lease_seconds,
        "lease_label": f"{lease_seconds:g}",
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(load_sql("take_lease"), params)
        abandoned = tuple(AbandonedRun(*row) for row in cursor.fetchall())
        cursor.execute(load_sql("insert_run"), params)
        row = cursor.fetchone()
    for run in abandoned:
        log.warning(
            "run abandoned: its heartbeat expired; taken over",
            abandoned_run_id=run.run_id,
            abandoned_trace_id=run.trace_id,
            abandoned_as_of=run.as_of.isoformat(),
            released_by_abandoned_run=run.executed_count,
        )
    return Lease(run_id=row[0] if row else None, abandoned=abandoned)


def renew_lease(cursor, run_id: int, tally: Tally | None = None) -> None:
    """Add a committed chunk's counts to the run row and renew the heartbeat, in the
    chunk's own transaction: after any crash the row is exact up to the last committed
    chunk. Raises LeaseLost (the chunk then rolls back) when the run lost its lease."""
    tally = tally or Tally()
    cursor.execute(
        f"UPDATE {RUNS} SET executed_count = executed_count + %s, executed_amount = executed_amount + %s, "
        "errors_count = errors_count + %s, locks_closed_count = locks_closed_count + %s, "
        "heartbeat_at = clock_timestamp() WHERE id = %s AND status = 'RUNNING'",
        [tally.executed_count, tally.executed_amount, tally.errors_count, tally.locks_closed_count, run_id],
    )
    if cursor.rowcount != 1:
        raise LeaseLost(f"run {run_id} lost its lease: another run took it over")


def heartbeat(run_id: int) -> None:
    """Renew the lease from a connection that is otherwise waiting (the caller of several
    writers): it also keeps that connection from idling past idle_session_timeout."""
    with transaction.atomic(), connection.cursor() as cursor:
        renew_lease(cursor, run_id)


def finish_run(run_id: int, summary: ReleaseSummary) -> None:
    """The counts are already on the row: each chunk added its own when it committed."""
    updated = ReleaseRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        finished_at=Now(),
        heartbeat_at=Now(),
        status=RunStatus.COMPLETED_WITH_ERRORS if summary.errors_count else RunStatus.SUCCEEDED,
        exit_code=summary.exit_code,
        summary=summary.to_runbook_json(),
    )
    if not updated:
        raise LeaseLost(f"run {run_id} lost its lease before it finished: another run took it over")


def fail_run(run_id: int, exc: BaseException) -> None:
    """Record a run that crashed; what its committed chunks released stays released,
    and the row already counts it."""
    if connection.in_atomic_block:
        return  # inside the caller's transaction, which is being rolled back: nothing can be written now
    if connection.connection is not None and not connection.is_usable():
        connection.close()  # the server ended the session (idle timeout, restart): record on a new one
    ReleaseRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        finished_at=Now(),
        status=RunStatus.FAILED,
        exit_code=1,
        error=f"{type(exc).__name__}: {exc}"[:2000],
    )
