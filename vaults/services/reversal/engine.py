"""The reversal's chunks (ReversalChunks, an engine for the shared chunk machinery in
vaults/services/release/chunks.py), and the dry run's single planning statement.

Each chunk is two statements, as the release's: claim.sql locks the lots of a key range of
the scope's release operations (then their owners' wallets, in id order), and chunk.sql
plans and writes them all at once. Python only sees the chunk's counts and its failed lots.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import structlog
from django.db import IntegrityError, connection

from common.db import fetch_rows
from vaults.services.release.chunks import RunFailures
from vaults.services.release.results import LotError, Tally
from vaults.services.reversal.context import ReversalContext
from vaults.services.reversal.results import ReversedLot
from vaults.services.reversal.runs import REVERSALS
from vaults.services.reversal.selection import KeyRange, ReleaseRangeDispatcher
from vaults.services.reversal.statements import (
    base_params,
    chunk_sql,
    claim_sql,
    count_sql,
    dry_run_sql,
    range_lots_sql,
)

log = structlog.get_logger("vaults.reversal")


class ReversalChunks:
    run_table = REVERSALS

    def __init__(self, ctx: ReversalContext) -> None:
        self.ctx = ctx
        self.run_id = ctx.run_id
        self.workers = ctx.workers
        self.chunk_size = ctx.chunk_size

    def dispatcher(self, failures: RunFailures) -> ReleaseRangeDispatcher:
        return ReleaseRangeDispatcher(self.ctx)  # failed lots are left out by claim.sql

    def write_range(
        self, cursor, key_range: KeyRange, failures: RunFailures, *, wait: bool, lot_ids=None
    ) -> tuple[Tally, int]:
        failed, insufficient = failures.snapshot()
        params = {
            **base_params(self.ctx),
            **key_range.params(),
            "exclude_lot_ids": failed,
            "carry_lot_ids": insufficient,
            "limit": self.ctx.chunk_size,
            "lot_ids": lot_ids,
        }
        cursor.execute(claim_sql(self.ctx, wait=wait, one_lot=lot_ids is not None), params)
        params["claimed_release_ids"] = cursor.fetchone()[0]
        if not params["claimed_release_ids"]:
            return Tally(), 0
        cursor.execute(chunk_sql(self.ctx), params)
        row = _ResultRow(*cursor.fetchone())
        log.debug("chunk written", releases=row.selected, reversed=row.reversed_count)
        return row.tally(), row.selected

    def lots_in_range(self, key_range: KeyRange, failures: RunFailures) -> list[tuple[int, int]]:
        failed = set(failures.snapshot()[0])
        rows = fetch_rows(range_lots_sql(self.ctx), {**base_params(self.ctx), **key_range.params()})
        return [(lot_id, user_id) for lot_id, user_id in rows if lot_id not in failed]

    def run_counts(self, tally: Tally) -> dict:
        return {
            "executed_count": tally.executed_count,
            "executed_amount": tally.executed_amount,
            "errors_count": tally.errors_count,
        }

    def lot_error_code(self, exc: Exception) -> str:
        if isinstance(exc, IntegrityError) and "idempotency_key" in str(exc):
            return "ALREADY_REVERSED"
        return "DATABASE_ERROR"


def count_scope(ctx: ReversalContext) -> tuple[int, int]:
    """(release operations in the scope, those already reversed), at the start of a run."""
    return fetch_rows(count_sql(ctx), base_params(ctx))[0]


def plan_dry_run(ctx: ReversalContext) -> tuple[Tally, int, tuple[ReversedLot, ...]]:
    """The whole scope planned by one read-only statement (the caller opens the READ ONLY
    transaction): (tally, releases looked at, the first lots it would put back)."""
    with connection.cursor() as cursor:
        cursor.execute(dry_run_sql(ctx), {**base_params(ctx), "carry_lot_ids": []})
        row = _ResultRow(*cursor.fetchone())
    planned = tuple(
        ReversedLot(p["lot_id"], p["release_id"], Decimal(p["amount"]), date.fromisoformat(p["release_day"]))
        for p in row.planned or ()
    )
    return row.tally(), row.selected, planned


@dataclass(frozen=True)
class _ResultRow:
    """The one row of result.sql."""

    selected: int
    reversed_count: int
    reversed_amount: Decimal
    already_reversed: int  # a dry run's skipped; a real run counts them once, at its start
    errors_count: int
    errors: list[dict] | None
    planned: list[dict] | None

    def tally(self) -> Tally:
        tally = Tally(
            executed_count=self.reversed_count,
            executed_amount=self.reversed_amount,
            errors_count=self.errors_count,
        )
        for error in self.errors or ():
            lot_error = LotError(lot_id=error["lot_id"], code=error["code"], message=error["message"])
            log.warning("lot reversal refused", lot_id=lot_error.lot_id, code=lot_error.code, error=lot_error.message)
            tally.add_error(lot_error, counted=True)
        return tally
