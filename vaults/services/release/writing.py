"""Writing one chunk of a real run, and the dry run's single planning statement.

The common path is two statements per chunk (claim.sql, chunk.sql). Python only sees
the chunk's counts, plus the rare lots that need more: a lock found by the audit's fallback, a
lock larger than the release (split), a lot that failed. If PostgreSQL refuses a
chunk, its range is retried lot by lot, each in its own transaction, so a bad lot
fails alone.
"""

import threading
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import structlog
from django.db import DataError, IntegrityError, InternalError, OperationalError, connection

from common.db import fetch_rows
from vaults.services.lock_matching import LockClosure, LotKey, MatchedLock, close_locks, match_fallback_locks
from vaults.services.release.context import RunContext
from vaults.services.release.results import LotError, PlannedLot, Tally
from vaults.services.release.runs import renew_lease
from vaults.services.release.selection import KeyRange, RangeDispatcher
from vaults.services.release.statements import base_params, chunk_sql, claim_sql, dry_run_sql
from vaults.services.release.transactions import (
    TIMEOUT_CODES,
    bounded_transaction,
    connection_lost,
    describe,
    timeout_code,
)

log = structlog.get_logger("vaults.release")

# What PostgreSQL says about the rows of a lot (a constraint, a trigger, a value). Any
# other error (a lost connection, a cancelled query) stops the run instead.
LOT_ERRORS = (IntegrityError, DataError, InternalError)


@dataclass
class RunFailures:
    """Lots that failed earlier in this run, shared by its writers."""

    failed: set[int] = field(default_factory=set)
    insufficient: set[int] = field(default_factory=set)
    # Owners whose account stayed locked by another session past the lock timeout:
    # their other lots are reported without waiting again.
    blocked_users: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, tally: Tally) -> None:
        with self._lock:
            self.insufficient |= tally.insufficient_lot_ids
            self.failed |= tally.failed_lot_ids

    def block_user(self, user_id: int) -> None:
        with self._lock:
            self.blocked_users.add(user_id)

    def is_blocked(self, user_id: int) -> bool:
        with self._lock:
            return user_id in self.blocked_users

    def snapshot(self) -> tuple[list[int], list[int]]:
        """(failed, insufficient), sorted."""
        with self._lock:
            return sorted(self.failed), sorted(self.insufficient)


@dataclass(frozen=True)
class InFlight:
    """A chunk whose COMMIT was on its way: `xid` tells whether it committed."""

    xid: str
    tally: Tally
    selected: int


class ChunkLost(Exception):
    """The connection was lost during a chunk. Nothing of the chunk is known to be
    committed except `done` (lots already committed one by one) and, if PostgreSQL says
    its transaction committed, `in_doubt`. Its range is walked again by a later pass."""

    def __init__(self, cause: BaseException, in_doubt: InFlight | None, done: tuple[Tally, int] | None = None):
        super().__init__(describe(cause))
        self.cause = cause
        self.in_doubt = in_doubt
        self.done = done


def commit_next_chunk(
    ctx: RunContext, dispatcher: RangeDispatcher, failures: RunFailures, *, wait: bool
) -> tuple[Tally, int] | None:
    """Take the next key range and release it in its own transaction: (tally, lots
    looked at), or None when the walk is over. Raises ChunkLost when the connection is lost.

    A range that hits the lock or statement timeout is left to the final pass (it walks
    every remaining lot again); in the final pass it is retried lot by lot."""
    key_range = None
    in_flight = None
    try:
        with bounded_transaction() as cursor:
            key_range = dispatcher.next_range(cursor)
            if key_range is None:
                return None
            tally, selected, xid = _write_range(ctx, cursor, key_range, failures, wait=wait)
            in_flight = InFlight(xid, tally, selected)
    except Exception as exc:
        if connection_lost(exc):
            raise ChunkLost(exc, in_flight) from exc
        if key_range is None:
            raise
        if isinstance(exc, LOT_ERRORS):
            log.warning("chunk failed, retrying lot by lot", error=describe(exc))
        elif (code := timeout_code(exc)) is None:
            raise
        elif not wait:
            log.warning("chunk timed out; left to the final pass", code=code, error=describe(exc))
            return Tally(), 0
        else:
            log.warning("chunk timed out again, retrying lot by lot", code=code, error=describe(exc))
        tally, selected = _retry_lot_by_lot(ctx, key_range, failures, wait=wait)
    failures.add(tally)
    return tally, selected


def _write_range(
    ctx: RunContext, cursor, key_range: KeyRange, failures: RunFailures, *, wait: bool, lot_ids=None
) -> tuple[Tally, int, str | None]:
    """Claim the range (claim.sql), then plan and write what was claimed (chunk.sql);
    the run row gets the chunk's counts and a heartbeat in the same transaction, whose
    id is returned."""
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
        tally, selected = Tally(), 0
    else:
        cursor.execute(chunk_sql(), params)
        row = _ChunkRow(*cursor.fetchone())
        tally, selected = row.tally(), row.selected
        if row.unlinked or row.splits:
            _close_remaining_locks(ctx, row, tally)
    xid = renew_lease(cursor, ctx.run_id, tally) if ctx.run_id is not None else None
    log.debug("chunk written", lots=selected, executed=tally.executed_count)
    return tally, selected, xid


def _retry_lot_by_lot(ctx: RunContext, key_range: KeyRange, failures: RunFailures, *, wait: bool):
    """The refused range, one lot per transaction: the lots claim.sql would take. A lot
    whose owner's account stays locked elsewhere fails with LOCK_TIMEOUT, and so do the
    owner's other lots, without waiting again."""
    failed = set(failures.snapshot()[0])
    lots = [
        (lot_id, user_id)
        for lot_id, user_id in fetch_rows(
            "SELECT id, user_id FROM vault_vesting_lots WHERE vault_id = %s AND currency = %s "
            "AND status = 'VESTED' AND released_amount < amount "
            "AND (release_day, id) > (%s, %s) AND (release_day, id) <= (%s, %s) ORDER BY release_day, id",
            [ctx.vault.pk, ctx.vault.currency, *key_range.after, *key_range.upto],
        )
        if lot_id not in failed and (ctx.lot_ids is None or lot_id in ctx.lot_ids)
    ]
    tally = Tally()
    handled = 0
    for lot_id, user_id in lots:
        try:
            lot_tally = _release_one_lot(ctx, key_range, failures, lot_id, user_id, wait=wait)
        except ChunkLost as lost:
            raise ChunkLost(lost.cause, lost.in_doubt, done=(tally, handled)) from lost.cause
        if lot_tally is not None:
            tally.merge(lot_tally)
            handled += 1
    return tally, handled


def _release_one_lot(
    ctx: RunContext, key_range: KeyRange, failures: RunFailures, lot_id: int, user_id: int, *, wait: bool
) -> Tally | None:
    """One lot in its own transaction; its failure recorded on the run row. None: left to
    the final pass (a timeout in the first pass)."""
    in_flight = None
    try:
        if wait and failures.is_blocked(user_id):
            error = LotError(
                lot_id=lot_id, code="LOCK_TIMEOUT", message="the owner's account is locked by another session"
            )
        else:
            try:
                with bounded_transaction() as cursor:
                    lot_tally, _, xid = _write_range(ctx, cursor, key_range, failures, wait=wait, lot_ids=[lot_id])
                    in_flight = InFlight(xid, lot_tally, 1)
                return lot_tally
            except (*LOT_ERRORS, OperationalError) as exc:
                if connection_lost(exc):
                    raise
                code = timeout_code(exc) if isinstance(exc, OperationalError) else _error_code(exc)
                if code is None:
                    raise
                if code in TIMEOUT_CODES and not wait:
                    return None  # the final pass tries it again
                if code == "LOCK_TIMEOUT":
                    failures.block_user(user_id)
                error = LotError(lot_id=lot_id, code=code, message=str(exc).splitlines()[0])
        log.warning("lot release failed", lot_id=lot_id, code=error.code, error=error.message)
        lot_tally = Tally()
        lot_tally.add_error(error)
        if ctx.run_id is not None:
            with bounded_transaction() as cursor:
                in_flight = InFlight(renew_lease(cursor, ctx.run_id, lot_tally), lot_tally, 1)
        return lot_tally
    except Exception as exc:
        if connection_lost(exc):
            raise ChunkLost(exc, in_flight) from exc
        raise


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


def _error_code(exc: Exception) -> str:
    if isinstance(exc, IntegrityError) and "idempotency_key" in str(exc):
        return "ALREADY_RELEASED"
    return "DATABASE_ERROR"
