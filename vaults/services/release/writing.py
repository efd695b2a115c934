"""The release's chunks (ReleaseChunks, an engine for chunks.py), and the dry run's single
planning statement.

The common path is two statements per chunk (claim.sql, chunk.sql). Python only sees
the chunk's counts, plus the rare lots that need more: a lock found by the audit's fallback, a
lock larger than the release (split), a lot that failed.
"""

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import structlog
from django.db import IntegrityError, connection

from common.db import fetch_rows
from vaults.services.lock_matching import LockClosure, LotKey, MatchedLock, close_locks, match_fallback_locks
from vaults.services.release.chunks import RunFailures
from vaults.services.release.context import RunContext
from vaults.services.release.results import LotError, PlannedLot, Tally
from vaults.services.release.runs import RUNS
from vaults.services.release.selection import KeyRange, RangeDispatcher
from vaults.services.release.statements import base_params, chunk_sql, claim_sql, dry_run_sql

log = structlog.get_logger("vaults.release")


class ReleaseChunks:
    """The release as a chunk engine (see chunks.py): key ranges of pending lots in
    (release_day, id) order, each claimed by claim.sql and written by chunk.sql."""

    run_table = RUNS

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.run_id = ctx.run_id
        self.workers = ctx.workers
        self.chunk_size = ctx.chunk_size

    def dispatcher(self, failures: RunFailures) -> RangeDispatcher:
        return RangeDispatcher(self.ctx, exclude_lot_ids=frozenset(failures.snapshot()[0]))

    def write_range(
        self, cursor, key_range: KeyRange, failures: RunFailures, *, wait: bool, lot_ids=None
    ) -> tuple[Tally, int]:
        """Claim the range (claim.sql), then plan and write what was claimed (chunk.sql)."""
        ctx = self.ctx
        failed, insufficient = failures.snapshot()
        params = {
            **base_params(ctx),
            **key_range.params(),
            "exclude_lot_ids": failed,
            "carry_lot_ids": insufficient,
            "limit": ctx.chunk_size,
        }
        if lot_ids is not None:
            params["lot_ids"] = lot_ids
        cursor.execute(claim_sql(ctx, wait=wait, selection=lot_ids is not None), params)
        params["claimed_lot_ids"] = cursor.fetchone()[0]
        if not params["claimed_lot_ids"]:
            return Tally(), 0
        cursor.execute(chunk_sql(), params)
        row = _ChunkRow(*cursor.fetchone())
        tally = row.tally()
        if row.unlinked or row.splits:
            _close_remaining_locks(ctx, row, tally)
        log.debug("chunk written", lots=row.selected, executed=tally.executed_count)
        return tally, row.selected

    def lots_in_range(self, key_range: KeyRange, failures: RunFailures) -> list[tuple[int, int]]:
        """The lots claim.sql would take in the range."""
        ctx = self.ctx
        failed = set(failures.snapshot()[0])
        return [
            (lot_id, user_id)
            for lot_id, user_id in fetch_rows(
                "SELECT id, user_id FROM vault_vesting_lots WHERE vault_id = %s AND currency = %s "
                "AND status = 'VESTED' AND released_amount < amount "
                "AND (release_day, id) > (%s, %s) AND (release_day, id) <= (%s, %s) ORDER BY release_day, id",
                [ctx.vault.pk, ctx.vault.currency, *key_range.after, *key_range.upto],
            )
            if lot_id not in failed and (ctx.lot_ids is None or lot_id in ctx.lot_ids)
        ]

    def run_counts(self, tally: Tally) -> dict:
        return {
            "executed_count": tally.executed_count,
            "executed_amount": tally.executed_amount,
            "errors_count": tally.errors_count,
            "locks_closed_count": tally.locks_closed_count,
        }

    def lot_error_code(self, exc: Exception) -> str:
        if isinstance(exc, IntegrityError) and "idempotency_key" in str(exc):
            return "ALREADY_RELEASED"
        return "DATABASE_ERROR"


def plan_dry_run(ctx: RunContext) -> tuple[Tally, int]:
    """The whole selection planned by one read-only statement (the caller opens the
    READ ONLY transaction): (tally, lots looked at)."""
    params = {**base_params(ctx), "carry_lot_ids": []}
    with connection.cursor() as cursor:
        cursor.execute(dry_run_sql(ctx), params)
        row = _ChunkRow(*cursor.fetchone())
    tally = row.tally()
    direct = [PlannedLot(p["lot_id"], p["lock_id"], "direct") for p in row.planned or () if p["lock_id"] is not None]
    matches = _close_remaining_locks(ctx, row, tally) if row.unlinked or row.splits else {}
    unlinked = {lot["lot_id"] for lot in row.unlinked or ()}
    others = [
        PlannedLot(p["lot_id"], matches[p["lot_id"]].lock.pk, "fallback")
        if p["lot_id"] in matches
        else PlannedLot(p["lot_id"], None, "missing")
        for p in row.planned or ()
        if p["lot_id"] in unlinked
    ]
    tally.planned = direct + others
    return tally, row.selected


@dataclass(frozen=True)
class _ChunkRow:
    """The one row of result.sql."""

    selected: int
    executed_count: int
    executed_amount: Decimal
    locks_closed_count: int
    errors_count: int
    errors: list[dict] | None
    unlinked: list[dict] | None
    splits: list[dict] | None
    planned: list[dict] | None

    def tally(self) -> Tally:
        tally = Tally(
            executed_count=self.executed_count,
            executed_amount=self.executed_amount,
            errors_count=self.errors_count,
            locks_closed_count=self.locks_closed_count,
        )
        for error in self.errors or ():
            lot_error = LotError(lot_id=error["lot_id"], code=error["code"], message=error["message"])
            log.warning("lot release failed", lot_id=lot_error.lot_id, code=lot_error.code, error=lot_error.message)
            tally.add_error(lot_error, counted=True)
        return tally


def _close_remaining_locks(ctx: RunContext, row: _ChunkRow, tally: Tally) -> dict:
    """The rare path: locks found by the audit's fallback, and locks larger than the
    release (split). A dry run only counts them. Returns the fallback matches by lot id."""
    write = not ctx.dry_run
    splits = row.splits or []
    taken = {split["lock_id"] for split in splits}  # still ACTIVE until split below
    unlinked = row.unlinked or []
    matches = match_fallback_locks(
        vault=ctx.vault,
        lots=[
            LotKey(
                lot["lot_id"],
                lot["user_id"],
                Decimal(lot["amount"]),
                date.fromisoformat(lot["deposit_day"]),
                uuid.UUID(lot["source_operation_id"]),
            )
            for lot in unlinked
        ],
        for_update=write,
        taken=taken,
    )
    closures = [
        LockClosure(
            lock=MatchedLock(split["lock_id"], Decimal(split["lock_amount"])),
            release_amount=Decimal(split["remaining"]),
            release_operation_id=_uuid(split["operation_id"]),
        )
        for split in splits
    ]
    tally.locks_split_count += len(splits)
    tally.locks_closed_count += len(splits)  # closed for the released part
    for lot in unlinked:
        match = matches.get(lot["lot_id"])
        if match is None:
            tally.locks_missing_count += 1
            log.warning(
                "wallet lock not found; releasing anyway (the ledger prevails)",
                lot_id=lot["lot_id"],
                source_operation_id=lot["source_operation_id"],
            )
            continue
        remaining = Decimal(lot["remaining"])
        tally.locks_closed_count += 1
        tally.locks_matched_by_fallback += 1
        tally.locks_split_count += match.lock.amount > remaining
        log.warning(
            "wallet lock matched by fallback",
            lot_id=lot["lot_id"],
            lock_id=match.lock.pk,
            candidates=match.candidates,
            source_operation_id=lot["source_operation_id"],
        )
        closures.append(
            LockClosure(lock=match.lock, release_amount=remaining, release_operation_id=_uuid(lot["operation_id"]))
        )
    if write and closures:
        close_locks(closures=closures, at=fetch_rows("SELECT now()")[0][0])
    return matches


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None
