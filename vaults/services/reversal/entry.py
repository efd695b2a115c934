"""reverse_releases: the one reversal service behind the command, the admin and the Celery
task. It checks its inputs, then runs a dry run or a real run and returns a frozen
ReversalSummary.

What a reversal writes, per release it takes back (one chunk's transaction, set-based: see
sql/chunk.sql): a new VAULT_VESTING_RELEASE_REVERSAL operation moving the released amount
from WALLET_AVAILABLE back to WALLET_LOCKED (its key unique per reversed release: once
only), a new ACTIVE wallet lock, and the lot back to VESTED with a new release day after
today. The release's own rows are never edited. Money already spent is never taken back.
"""

import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

import structlog

from common.db import read_only_transaction
from ledger.currencies import format_amount
from vaults.exceptions import InvalidRelease, LeaseLost
from vaults.models import ReleaseTrigger, ReversalRun, ReversalScope
from vaults.selectors import get_vault
from vaults.services.release.clock import checked_utc_today
from vaults.services.release.execution import Progress, run_chunks
from vaults.services.release.lease_keeper import LeaseKeeper
from vaults.services.release.limits import run_limits
from vaults.services.release.results import RefusedLot, Tally
from vaults.services.release.runs import fail_run, retrying
from vaults.services.release.transactions import stop_interrupted_query
from vaults.services.reversal.context import ReversalContext, Scope
from vaults.services.reversal.engine import ReversalChunks, count_scope, plan_dry_run
from vaults.services.reversal.results import JOB, ReversalSummary
from vaults.services.reversal.runs import REVERSALS, finish_reversal_run, record_skipped, start_reversal_run
from vaults.services.reversal.selection import lots_scope, run_scope

log = structlog.get_logger("vaults.reversal")

MAX_REASON_LENGTH = 500
MAX_VESTING_DAYS = 36_500


def new_reversal_trace_id(today: date) -> str:
    return f"job-avenir-reversal-{today:%Y%m%d}-{secrets.token_hex(4)}"


def reverse_releases(
    *,
    currency: str = "AED",
    run_id: int | None = None,
    lot_ids: Sequence[int] | None = None,
    as_of: date | None = None,
    reason: str,
    release_day: date | None = None,
    vesting_days: int | None = None,
    dry_run: bool = False,
    trigger: str = ReleaseTrigger.CLI,
    actor: str = "",
    task_id: str = "",
    chunk_size: int | None = None,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReversalSummary:
    """Reverse the releases of exactly one scope: `run_id` (the operations that release run
    wrote), `lot_ids` (each lot's current release) or `as_of` (every release operation of
    that business day). Each lot gets a new release day: `release_day`, or its deposit day
    plus `vesting_days` (exactly one of them), which must be after today by the database's
    clock. `reason` is required and recorded on every reversal.

    Raises InvalidRelease (or VaultNotFound, UnknownCurrency) for bad input, before anything
    is written. Per-lot refusals are reported in the summary, never raised."""
    if sum(scope is not None for scope in (run_id, lot_ids, as_of)) != 1:
        raise InvalidRelease("give exactly one scope: a release run, lots, or an as_of day")
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON_LENGTH or not reason.isprintable():
        raise InvalidRelease(f"a reason is required: printable text of at most {MAX_REASON_LENGTH} characters")
    if (release_day is None) == (vesting_days is None):
        raise InvalidRelease("give exactly one new release day rule: a release day, or vesting days")
    if vesting_days is not None and (
        isinstance(vesting_days, bool) or not isinstance(vesting_days, int) or not 1 <= vesting_days <= MAX_VESTING_DAYS
    ):
        raise InvalidRelease(f"vesting days must be a whole number between 1 and {MAX_VESTING_DAYS}")
    if trigger not in ReleaseTrigger.values:
        raise InvalidRelease(f"unknown trigger {trigger!r}")
    chunk_size, workers = run_limits(chunk_size=chunk_size, workers=workers)
    today = checked_utc_today()
    if release_day is not None and release_day <= today:
        raise InvalidRelease(f"the new release day {release_day} must be after today ({today}, UTC)")
    vault = get_vault(currency=currency)
    refused: tuple[RefusedLot, ...] = ()
    if run_id is not None:
        scope = run_scope(vault=vault, run_id=run_id)
    elif as_of is not None:
        scope = Scope(kind=ReversalScope.DAY, as_of=as_of)
    else:
        scope, refused = lots_scope(vault=vault, lot_ids=lot_ids)
    ctx = ReversalContext(
        vault=vault,
        scope=scope,
        today=today,
        trace_id=new_reversal_trace_id(today),
        reason=reason,
        actor=actor,
        release_day=release_day,
        vesting_days=vesting_days,
        dry_run=dry_run,
        chunk_size=chunk_size,
        workers=workers,
    )
    with structlog.contextvars.bound_contextvars(job=JOB, trace_id=ctx.trace_id):
        log.info("reversal started", scope=scope.describe(), currency=currency, dry_run=dry_run, actor=actor)
        summary = (
            retrying(lambda: _dry_run(ctx, refused))
            if dry_run
            else _real_run(ctx, refused, trigger, task_id, on_progress)
        )
        log.info(
            "reversal finished",
            found=summary.found,
            reversed_count=summary.reversed_count,
            reversed_amount=format_amount(summary.reversed_amount, currency),
            skipped_count=summary.skipped_count,
            errors_count=summary.errors_count,
            exit_code=summary.exit_code,
        )
        return summary


def _dry_run(ctx: ReversalContext, refused: tuple[RefusedLot, ...]) -> ReversalSummary:
    """PostgreSQL itself guarantees that a dry run writes nothing."""
    with read_only_transaction():
        tally, found, planned = plan_dry_run(ctx)
    return replace(_summarize(ctx, found, tally, refused), planned=planned)


def _real_run(
    ctx: ReversalContext,
    refused: tuple[RefusedLot, ...],
    trigger: str,
    task_id: str,
    on_progress: Callable[[int, int], None] | None,
) -> ReversalSummary:
    ctx = replace(ctx, run_id=start_reversal_run(ctx, trigger=trigger, task_id=task_id))
    tally = Tally()
    try:
        with LeaseKeeper(ctx.run_id, table=REVERSALS) as keeper:
            found, tally.skipped_count = retrying(lambda: count_scope(ctx))
            record_skipped(ctx.run_id, tally.skipped_count)
            run_chunks(ReversalChunks(ctx), Progress(tally, found - tally.skipped_count, on_progress), keeper)
        summary = _summarize(ctx, found, tally, refused)
        finish_reversal_run(ctx.run_id, summary)
    except BaseException as exc:  # Ctrl-C and time limits too: the run row says FAILED
        stop_interrupted_query(exc)
        if isinstance(exc, LeaseLost):
            log.warning("reversal stopped: its run was marked ABANDONED", error=str(exc))
        else:
            log.exception("reversal failed")
        fail_run(ctx.run_id, exc, model=ReversalRun)
        raise
    return summary


def _summarize(ctx: ReversalContext, found: int, tally: Tally, refused: tuple[RefusedLot, ...]) -> ReversalSummary:
    return ReversalSummary(
        trace_id=ctx.trace_id,
        currency=ctx.vault.currency,
        scope=ctx.scope,
        dry_run=ctx.dry_run,
        reason=ctx.reason,
        release_day=ctx.release_day,
        vesting_days=ctx.vesting_days,
        found=found,
        reversed_count=tally.executed_count,
        reversed_amount=tally.executed_amount,
        skipped_count=tally.skipped_count,
        errors_count=tally.errors_count,
        errors=tuple(tally.errors),
        refused=refused,
        run_id=ctx.run_id,
    )
