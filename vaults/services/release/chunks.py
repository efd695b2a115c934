"""One chunk of a run, for any engine that walks lots in key ranges (the release, the
reversal): its transaction, its failures, and what happens when PostgreSQL refuses it.

An engine (see ChunkEngine) hands out key ranges and writes one range in a transaction it
is given; everything else is here and shared:
- a chunk is one bounded transaction, and its run row gets its counts and a heartbeat in it;
- a range that PostgreSQL refuses (a constraint, a trigger) is retried lot by lot, each in
  its own transaction, so a bad lot fails alone; a range that times out is left to the
  final pass, then retried lot by lot too;
- a lost connection raises ChunkLost, with what may have committed (see reconnect.py).
"""

import threading
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from django.db import DataError, IntegrityError, InternalError, OperationalError

from vaults.services.release.results import LotError, Tally
from vaults.services.release.runs import renew_lease
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


class Dispatcher(Protocol):
    def next_range(self, cursor): ...


class ChunkEngine(Protocol):
    """What a run's engine provides to walk and write its chunks."""

    run_id: int | None
    run_table: str
    workers: int
    chunk_size: int

    def dispatcher(self, failures: RunFailures) -> Dispatcher:
        """A new walk over the remaining lots, leaving out the lots that failed."""

    def write_range(self, cursor, key_range, failures: RunFailures, *, wait: bool, lot_ids=None) -> tuple[Tally, int]:
        """Claim and write one range (only `lot_ids` of it, when given) with `cursor`'s
        transaction: (tally, lots looked at). FOR UPDATE when `wait`, else SKIP LOCKED."""

    def lots_in_range(self, key_range, failures: RunFailures) -> list[tuple[int, int]]:
        """(lot id, owner) of the lots the range would claim, for the lot-by-lot retry."""

    def run_counts(self, tally: Tally) -> dict:
        """The run row's counters a committed tally adds to."""

    def lot_error_code(self, exc: Exception) -> str:
        """The error code of a lot that PostgreSQL refused on its own."""


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
    engine: ChunkEngine, dispatcher: Dispatcher, failures: RunFailures, *, wait: bool
) -> tuple[Tally, int] | None:
    """Take the next key range and write it in its own transaction: (tally, lots looked
    at), or None when the walk is over. Raises ChunkLost when the connection is lost.

    A range that hits the lock or statement timeout is left to the final pass (it walks
    every remaining lot again); in the final pass it is retried lot by lot."""
    key_range = None
    in_flight = None
    try:
        with bounded_transaction() as cursor:
            key_range = dispatcher.next_range(cursor)
            if key_range is None:
                return None
            tally, selected = engine.write_range(cursor, key_range, failures, wait=wait)
            in_flight = _renew(engine, cursor, tally, selected)
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
        tally, selected = _retry_lot_by_lot(engine, key_range, failures, wait=wait)
    failures.add(tally)
    return tally, selected


def _renew(engine: ChunkEngine, cursor, tally: Tally, selected: int) -> InFlight | None:
    """The chunk's counts and a heartbeat on the run row, in the chunk's transaction, whose
    id then tells whether it committed should its COMMIT be lost."""
    if engine.run_id is None:
        return None
    xid = renew_lease(cursor, engine.run_id, engine.run_counts(tally), table=engine.run_table)
    return InFlight(xid, tally, selected)


def _retry_lot_by_lot(engine: ChunkEngine, key_range, failures: RunFailures, *, wait: bool):
    """The refused range, one lot per transaction. A lot whose owner's account stays
    locked elsewhere fails with LOCK_TIMEOUT, and so do the owner's other lots, without
    waiting again."""
    tally = Tally()
    handled = 0
    for lot_id, user_id in engine.lots_in_range(key_range, failures):
        try:
            lot_tally = _write_one_lot(engine, key_range, failures, lot_id, user_id, wait=wait)
        except ChunkLost as lost:
            raise ChunkLost(lost.cause, lost.in_doubt, done=(tally, handled)) from lost.cause
        if lot_tally is not None:
            tally.merge(lot_tally)
            handled += 1
    return tally, handled


def _write_one_lot(
    engine: ChunkEngine, key_range, failures: RunFailures, lot_id: int, user_id: int, *, wait: bool
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
                    lot_tally, _ = engine.write_range(cursor, key_range, failures, wait=wait, lot_ids=[lot_id])
                    in_flight = _renew(engine, cursor, lot_tally, 1)
                return lot_tally
            except (*LOT_ERRORS, OperationalError) as exc:
                if connection_lost(exc):
                    raise
                code = timeout_code(exc) if isinstance(exc, OperationalError) else engine.lot_error_code(exc)
                if code is None:
                    raise
                if code in TIMEOUT_CODES and not wait:
                    return None  # the final pass tries it again
                if code == "LOCK_TIMEOUT":
                    failures.block_user(user_id)
                error = LotError(lot_id=lot_id, code=code, message=str(exc).splitlines()[0])
        log.warning("lot failed", lot_id=lot_id, code=error.code, error=error.message)
        lot_tally = Tally()
        lot_tally.add_error(error)
        with bounded_transaction() as cursor:
            in_flight = _renew(engine, cursor, lot_tally, 1)
        return lot_tally
    except Exception as exc:
        if connection_lost(exc):
            raise ChunkLost(exc, in_flight) from exc
        raise
