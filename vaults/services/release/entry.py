"""release_matured_lots: the one release function behind the command, the admin,
the Celery task and the benchmark. It checks its inputs, then runs a dry run or a
real run and returns a frozen ReleaseSummary."""

import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

import structlog

from common.db import read_only_transaction
from ledger.currencies import format_amount
from vaults.exceptions import FutureAsOf, InvalidRelease, LeaseLost
from vaults.models import ReleaseRun, ReleaseTrigger, RunStatus
from vaults.selectors import get_vault
from vaults.services.release.clock import checked_utc_today
from vaults.services.release.context import RunContext
from vaults.services.release.execution import Progress, run_chunks
from vaults.services.release.lease_keeper import LeaseKeeper
from vaults.services.release.limits import run_limits
from vaults.services.release.results import JOB, ReleaseSummary, Tally
from vaults.services.release.runs import fail_run, finish_run, retrying, take_lease
from vaults.services.release.selection import Selection, count_selection
from vaults.services.release.transactions import bounded_transaction, stop_interrupted_query
from vaults.services.release.writing import ReleaseChunks, plan_dry_run

log = structlog.get_logger("vaults.release")


def new_trace_id(as_of: date) -> str:
    return f"job-avenir-vesting-{as_of:%Y%m%d}-{secrets.token_hex(4)}"


def release_matured_lots(
    *,
    currency: str = "AED",
    as_of: date | None = None,
    dry_run: bool = False,
    lot_ids: Sequence[int] | None = None,
    trigger: str = ReleaseTrigger.CLI,
    actor: str = "",
    task_id: str = "",
    chunk_size: int | None = None,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    take_over: int | None = None,
) -> ReleaseSummary:
    """Release every AVENIR lot of `currency` that matured on or before `as_of`.

    Raises FutureAsOf (as_of after today's UTC date by the database's clock),
    VaultNotFound, UnknownCurrency or InvalidRelease (chunk_size or workers out of
    bounds, a `take_over` run that is not RUNNING) for bad input, before anything is
    written. Per-lot failures are reported in the summary, never raised; LeaseLost when
    another run took this one over. `on_progress(done, total)` is called after each chunk.

    `take_over`: the id of a RUNNING run of this (currency, as_of) to mark ABANDONED at
    once, in the transaction that takes the lease (see take_over_run).
    """
    today = checked_utc_today()
    if take_over is not None and dry_run:
        raise InvalidRelease("taking a run over writes: it cannot be a dry run")
    if as_of is None:
        as_of = today
    elif as_of > today:
        raise FutureAsOf(f"as_of {as_of} is after today's UTC date {today}: lots are never released before maturity")
    if trigger not in ReleaseTrigger.values:
        raise InvalidRelease(f"unknown trigger {trigger!r}")
    chunk_size, workers = run_limits(chunk_size=chunk_size, workers=workers)
    ctx = RunContext(
        vault=get_vault(currency=currency),
        as_of=as_of,
        trace_id=new_trace_id(as_of),
        dry_run=dry_run,
        lot_ids=tuple(sorted(set(lot_ids))) if lot_ids is not None else None,
        chunk_size=chunk_size,
        workers=workers,
    )
    with structlog.contextvars.bound_contextvars(job=JOB, trace_id=ctx.trace_id):
        log.info(
            "release started",
            as_of=as_of.isoformat(),
            currency=currency,
            dry_run=dry_run,
            trigger=trigger,
            actor=actor,
        )
        summary = (
            retrying(lambda: _dry_run(ctx, on_progress))
            if dry_run
            else _real_run(ctx, trigger, actor, task_id, on_progress, take_over)
        )
        log.info(
            "release finished",
            matured_found=summary.matured_found,
            executed_count=summary.executed_count,
            executed_amount=format_amount(summary.executed_amount, currency),
            skipped_count=summary.skipped_count,
            errors_count=summary.errors_count,
            locks_closed_count=summary.locks_closed_count,
            locks_missing_count=summary.locks_missing_count,
            already_running=summary.already_running,
            exit_code=summary.exit_code,
        )
        return summary


def take_over_run(
    *,
    run_id: int,
    actor: str,
    trigger: str = ReleaseTrigger.CLI,
    chunk_size: int | None = None,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReleaseSummary:
    """An operator who knows a RUNNING run is dead takes it over at once instead of waiting
    for its lease to expire: it is marked ABANDONED (with the operator as `actor`) and a new
    run releases the rest of its day (its currency and as_of). Safe even if the run was
    alive: its next chunk finds its row taken over and rolls back. Raises InvalidRelease
    for an unknown run or one that is not RUNNING, before anything is written."""
    run = ReleaseRun.objects.filter(pk=run_id).first()
    if run is None:
        raise InvalidRelease(f"no release run {run_id}")
    if run.status != RunStatus.RUNNING:
        raise InvalidRelease(f"run {run_id} is {run.status}, not RUNNING: there is nothing to take over")
    return release_matured_lots(
        currency=run.currency,
        as_of=run.as_of,
        trigger=trigger,
        actor=actor,
        chunk_size=chunk_size,
        workers=workers,
        on_progress=on_progress,
        take_over=run_id,
    )


def _dry_run(ctx: RunContext, on_progress: Callable[[int, int], None] | None) -> ReleaseSummary:
    """PostgreSQL itself guarantees that a dry run writes nothing."""
    with read_only_transaction():
        selection = count_selection(ctx)
        tally, selected = plan_dry_run(ctx)
    if on_progress is not None:
        on_progress(selected, selected)
    return _summarize(ctx, selection, tally)


def _real_run(
    ctx: RunContext,
    trigger: str,
    actor: str,
    task_id: str,
    on_progress: Callable[[int, int], None] | None,
    take_over: int | None,
) -> ReleaseSummary:
    lease = take_lease(ctx, trigger=trigger, actor=actor, task_id=task_id, take_over=take_over)
    if lease.run_id is None:
        log.warning("another run for this date and currency holds the run lease; nothing done")
        # Returned at once: counting the selection could wait on the other run's locks.
        return replace(_summarize(ctx, Selection(0, 0, ()), Tally()), already_running=True)
    ctx = replace(ctx, run_id=lease.run_id)
    tally = Tally()
    try:
        with LeaseKeeper(ctx.run_id) as keeper:
            selection = retrying(lambda: _count(ctx))
            run_chunks(ReleaseChunks(ctx), Progress(tally, selection.matured_found, on_progress), keeper)
        summary = _summarize(ctx, selection, tally)
        finish_run(ctx.run_id, summary)
    except BaseException as exc:  # Ctrl-C and time limits too: the run row says FAILED
        stop_interrupted_query(exc)
        if isinstance(exc, LeaseLost):
            log.warning("release stopped: another run took over its lease", error=str(exc))
        else:
            log.exception("release failed")
        fail_run(ctx.run_id, exc)  # not over a taker's ABANDONED: only a RUNNING row is marked
        raise
    return summary


def _count(ctx: RunContext) -> Selection:
    with bounded_transaction():  # counting waits on a table lock (a migration) no longer than a chunk
        return count_selection(ctx)


def _summarize(ctx: RunContext, selection: Selection, tally: Tally) -> ReleaseSummary:
    return ReleaseSummary(
        trace_id=ctx.trace_id,
        as_of=ctx.as_of,
        currency=ctx.vault.currency,
        dry_run=ctx.dry_run,
        matured_found=selection.matured_found,
        executed_count=tally.executed_count,
        executed_amount=tally.executed_amount,
        skipped_count=selection.skipped_count,
        errors_count=tally.errors_count,
        errors=tuple(tally.errors),
        locks_closed_count=tally.locks_closed_count,
        locks_missing_count=tally.locks_missing_count,
        locks_matched_by_fallback=tally.locks_matched_by_fallback,
        locks_split_count=tally.locks_split_count,
        refused=tuple(selection.refused),
        run_id=ctx.run_id,
        planned=tuple(tally.planned),
    )
