"""The run records (one row per real run) and the run lease they carry.

The RUNNING row is the lease: a partial unique index allows one per (vault, currency,
as_of). Taking, renewing and giving it back are plain transactional statements on that
row, so they behave the same on a direct connection and through a transaction pooler
(a session advisory lock would not: the pooler moves statements between sessions).
Every timestamp of the lease comes from the database's clock.

Each of these statements survives a lost connection: it is retried once the database
answers again (see reconnect.py), and a retry recognises its own earlier commit.
"""

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now

from vaults.exceptions import InvalidRelease, LeaseLost
from vaults.models import ReleaseRun, ReversalRun, RunRecord, RunStatus
from vaults.services.release.context import RunContext
from vaults.services.release.reconnect import wait_for_database
from vaults.services.release.results import ReleaseSummary
from vaults.services.release.statements import load_sql
from vaults.services.release.transactions import bounded_transaction, connection_lost

log = structlog.get_logger("vaults.release")

RUNS = ReleaseRun._meta.db_table
RUN_TABLES = frozenset({RUNS, ReversalRun._meta.db_table})
T = TypeVar("T")

__all__ = ["LeaseLost", "fail_run", "finish_run", "heartbeat", "renew_lease", "take_lease"]


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


def this_process() -> str:
    """host:pid of the process that holds a lease: what an operator looks for to kill it."""
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def retrying(statement: Callable[[], T]) -> T:
    """Run `statement` (one transaction); after a lost connection, wait for the database and
    run it again. The statement must tell a retry of its own earlier commit apart."""
    while True:
        try:
            return statement()
        except Exception as exc:
            if not connection_lost(exc):
                raise
            wait_for_database(exc)


def take_lease(ctx: RunContext, *, trigger: str, actor: str, task_id: str, take_over: int | None = None) -> Lease:
    """Mark the vault's dead runs ABANDONED (and `take_over`, an operator's choice, whatever
    its heartbeat), then insert this run's RUNNING row if no live run holds (vault,
    currency, as_of). Returns at once either way."""
    lease_seconds = settings.AVENIR_RELEASE_LEASE_SECONDS
    params = {
        "vault_id": ctx.vault.pk,
        "currency": ctx.vault.currency,
        "as_of": ctx.as_of,
        "trace_id": ctx.trace_id,
        "trigger": trigger,
        "actor": actor[:150],
        "task_id": task_id[:64],
        "holder": this_process(),
        "selected_lots_count": len(ctx.lot_ids) if ctx.lot_ids is not None else None,
        "lease_seconds": lease_seconds,
        "lease_label": f"{lease_seconds:g}",
        "take_over": take_over,
    }

    def statement() -> tuple[int | None, tuple[AbandonedRun, ...]]:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {RUNS} WHERE trace_id = %s", [ctx.trace_id])
            if mine := cursor.fetchone():  # a retry: the first attempt committed
                return mine[0], ()
            if take_over is not None:
                cursor.execute(load_sql("take_over"), params)
                if cursor.fetchone() is None:
                    raise InvalidRelease(f"run {take_over} is not RUNNING for {ctx.vault.currency} {ctx.as_of}")
            cursor.execute(load_sql("take_lease"), params)
            abandoned = tuple(AbandonedRun(*row) for row in cursor.fetchall())
            cursor.execute(load_sql("insert_run"), params)
            row = cursor.fetchone()
        return (row[0] if row else None), abandoned

    run_id, abandoned = retrying(statement)
    if take_over is not None:
        log.warning("run taken over by an operator", abandoned_run_id=take_over, actor=actor)
    for run in abandoned:
        log.warning(
            "run abandoned: its heartbeat expired; taken over",
            abandoned_run_id=run.run_id,
            abandoned_trace_id=run.trace_id,
            abandoned_as_of=run.as_of.isoformat(),
            released_by_abandoned_run=run.executed_count,
        )
    return Lease(run_id=run_id, abandoned=abandoned)


# The counters a committed chunk adds to its run row (a fixed list: they are spliced into SQL).
RUN_COUNTERS = frozenset({"executed_count", "executed_amount", "errors_count", "locks_closed_count", "skipped_count"})


def renew_lease(cursor, run_id: int, counts: dict | None = None, *, table: str = RUNS) -> str:
    """Add a committed chunk's counts to the run row and renew the heartbeat, in the
    chunk's own transaction: after any crash the row is exact up to the last committed
    chunk. Raises LeaseLost (the chunk then rolls back) when the run lost its lease.
    Returns the transaction's id, to learn later whether it committed."""
    counts = counts or {}
    if not counts.keys() <= RUN_COUNTERS or table not in RUN_TABLES:
        raise ValueError(f"unknown run table or counters: {table} {sorted(counts)}")
    added = "".join(f"{column} = {column} + %s, " for column in counts)
    cursor.execute(
        f"UPDATE {table} SET {added}heartbeat_at = clock_timestamp() "
        "WHERE id = %s AND status = 'RUNNING' RETURNING pg_current_xact_id()::text",
        [*counts.values(), run_id],
    )
    row = cursor.fetchone()
    if row is None:
        raise LeaseLost(f"run {run_id} lost its lease: another run took it over")
    return row[0]


def heartbeat(run_id: int, *, table: str = RUNS) -> None:
    """Renew the lease alone, in a short bounded transaction (the lease keeper's beat)."""
    with bounded_transaction() as cursor:
        renew_lease(cursor, run_id, table=table)


def finish_run(run_id: int, summary: ReleaseSummary) -> None:
    """The counts are already on the row: each chunk added its own when it committed."""
    status = RunStatus.COMPLETED_WITH_ERRORS if summary.errors_count else RunStatus.SUCCEEDED

    def statement() -> None:
        updated = ReleaseRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
            finished_at=Now(),
            heartbeat_at=Now(),
            status=status,
            exit_code=summary.exit_code,
            summary=summary.to_runbook_json(),
        )
        if updated:
            return
        if ReleaseRun.objects.filter(pk=run_id, status=status, summary__trace_id=summary.trace_id).exists():
            return  # a retry: the first attempt committed
        raise LeaseLost(f"run {run_id} lost its lease before it finished: another run took it over")

    retrying(statement)


def fail_run(run_id: int, exc: BaseException, *, model: type[RunRecord] = ReleaseRun) -> None:
    """Record a run that crashed; what its committed chunks released stays released, and
    the row already counts it. Best effort: when the database stays unreachable, the row
    stays RUNNING, its heartbeat stops, and the next run takes it over as ABANDONED."""
    if connection.in_atomic_block:
        return  # inside the caller's transaction, which is being rolled back: nothing can be written now
    try:
        retrying(
            lambda: model.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
                finished_at=Now(),
                status=RunStatus.FAILED,
                exit_code=1,
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
        )
    except Exception:
        log.exception("could not record the run as FAILED; its lease will expire", run_id=run_id)


def live_lease(*, vault_id, currency: str, as_of: date) -> ReleaseRun | None:
    """The RUNNING run that holds (vault, currency, as_of), if any, with its heartbeat."""
    running = ReleaseRun.objects.filter(vault_id=vault_id, currency=currency, as_of=as_of, status=RunStatus.RUNNING)
    return running.first()
