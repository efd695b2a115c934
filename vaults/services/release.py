"""The AVENIR vesting release: the one function behind the command, the admin, the
Celery task and the benchmark.

A run walks the matured, unreleased lots in (release_day, id) order, a chunk per
transaction. Each chunk is claimed with FOR UPDATE SKIP LOCKED (two runs never
share a lot), planned (balances, locks), then written set-based: one INSERT for
the operations, one for the entries, one UPDATE each for balances, lots and locks.
If writing a chunk fails, it is retried lot by lot with savepoints so a bad lot
fails alone. A unique idempotency key per lot makes a second release impossible
in the database. A dry run plans the same chunks inside a READ ONLY transaction.
"""

import contextvars
import queue
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence, Set
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property

import psycopg
import structlog
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from ledger.currencies import format_amount
from ledger.db import filter_in, is_postgres, read_only_transaction, update_rows
from ledger.exceptions import LedgerError
from ledger.models import AccountKind, Operation, OperationType
from ledger.services.posting import AccountState, Leg, OperationSpec, post_operations, wallet_states
from vaults.exceptions import FutureAsOf, InvalidRelease
from vaults.models import (
    LotStatus,
    ReleaseRun,
    ReleaseTrigger,
    RunStatus,
    Vault,
    VestingLot,
)
from vaults.selectors import get_vault, pending_lots
from vaults.services.lock_matching import LockClosure, LotKey, close_locks, match_locks

JOB = "avenir_vesting_release"
MAX_ERRORS_LISTED = 1000  # errors_count stays exact; the list is capped to keep memory flat

log = structlog.get_logger("vaults.release")


def utc_today() -> date:
    return datetime.now(UTC).date()


def new_trace_id(as_of: date) -> str:
    return f"job-avenir-vesting-{as_of:%Y%m%d}-{secrets.token_hex(4)}"


def release_idempotency_key(lot_id: int) -> str:
    return f"avenir-vesting-release:{lot_id}"


@dataclass(frozen=True)
class LotError:
    lot_id: int
    code: str
    message: str


@dataclass(frozen=True)
class RefusedLot:
    lot_id: int
    reason: str  # NOT_MATURED or NOT_FOUND


@dataclass(frozen=True)
class ReleaseSummary:
    trace_id: str
    as_of: date
    currency: str
    dry_run: bool
    matured_found: int
    executed_count: int
    executed_amount: Decimal
    skipped_count: int
    errors_count: int
    errors: tuple[LotError, ...]
    locks_closed_count: int
    locks_missing_count: int
    locks_matched_by_fallback: int
    locks_split_count: int
    refused: tuple[RefusedLot, ...] = ()
    run_id: int | None = None
    # Another real run for the same (as_of, currency) held the advisory lock: nothing was done.
    already_running: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.errors_count else 0

    def to_runbook_json(self) -> dict:
        """The runbook's JSON document: amounts are strings with the currency's minor units."""
        return {
            "job": JOB,
            "trace_id": self.trace_id,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "dry_run": self.dry_run,
            "already_running": self.already_running,
            "summary": {
                "matured_found": self.matured_found,
                "executed_count": self.executed_count,
                "executed_amount": format_amount(self.executed_amount, self.currency),
                "skipped_count": self.skipped_count,
                "errors_count": self.errors_count,
                "errors": [asdict(error) for error in self.errors],
                "locks_closed_count": self.locks_closed_count,
                "locks_missing_count": self.locks_missing_count,
                "locks_matched_by_fallback": self.locks_matched_by_fallback,
                "locks_split_count": self.locks_split_count,
                "refused_count": len(self.refused),
                "refused": [asdict(refused) for refused in self.refused],
                "trace_id": self.trace_id,
                "as_of_date": self.as_of.isoformat(),
            },
            "exit_code": self.exit_code,
        }


@dataclass
class _Tally:
    """Mutable counters of one run (internal; the caller gets a frozen ReleaseSummary)."""

    matured_found: int = 0
    executed_count: int = 0
    executed_amount: Decimal = Decimal(0)
    skipped_count: int = 0
    errors_count: int = 0
    errors: list[LotError] = field(default_factory=list)
    locks_closed_count: int = 0
    locks_missing_count: int = 0
    locks_matched_by_fallback: int = 0
    locks_split_count: int = 0
    refused: list[RefusedLot] = field(default_factory=list)
    error_lot_ids: set[int] = field(default_factory=set)

    def add_error(self, error: LotError, *, logged: bool = False) -> None:
        self.errors_count += 1
        self.error_lot_ids.add(error.lot_id)
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(error)
        if not logged:
            log.warning("lot release failed", lot_id=error.lot_id, code=error.code, error=error.message)

    def merge(self, other: "_Tally") -> None:
        for name in (
            "executed_count",
            "executed_amount",
            "locks_closed_count",
            "locks_missing_count",
            "locks_matched_by_fallback",
            "locks_split_count",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors_count += other.errors_count - len(other.errors)
        self.error_lot_ids |= other.error_lot_ids
        for error in other.errors:
            self.add_error(error, logged=True)


@dataclass(frozen=True)
class _Context:
    vault: Vault
    as_of: date
    trace_id: str
    dry_run: bool
    lot_ids: tuple[int, ...] | None
    chunk_size: int
    workers: int = 1
    # Dry run only: what a real run would have committed in earlier chunks: the debits
    # planned on each account, and the locks matched by fallback (a real run closes them).
    planned_debits: dict[int, Decimal] = field(default_factory=dict)
    planned_fallback_locks: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _LotRow:
    id: int
    user_id: int
    amount: Decimal
    released_amount: Decimal
    deposit_day: date
    release_day: date
    source_operation_id: uuid.UUID

    @cached_property  # read several times per lot by the planner and the writer
    def remaining(self) -> Decimal:
        return self.amount - self.released_amount


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
) -> ReleaseSummary:
    """Release every AVENIR lot of `currency` that matured on or before `as_of`.

    Raises FutureAsOf, VaultNotFound, UnknownCurrency or InvalidRelease for bad
    input, before anything is written. Per-lot failures are reported in the
    summary, never raised. `on_progress(done, total)` is called after each chunk.
    """
    today = utc_today()
    as_of = as_of or today
    if as_of > today:
        raise FutureAsOf(f"as_of {as_of} is after today's UTC date {today}: lots are never released before maturity")
    if trigger not in ReleaseTrigger.values:
        raise InvalidRelease(f"unknown trigger {trigger!r}")
    chunk_size = settings.AVENIR_RELEASE_CHUNK_SIZE if chunk_size is None else chunk_size
    if chunk_size < 1:
        raise InvalidRelease("chunk_size must be at least 1")
    workers = settings.AVENIR_RELEASE_WORKERS if workers is None else workers
    if workers < 1:
        raise InvalidRelease("workers must be at least 1")
    vault = get_vault(currency=currency)
    ctx = _Context(
        vault=vault,
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
        tally = _Tally()
        if dry_run:
            with read_only_transaction():
                _run(ctx, tally, on_progress)
            summary = _summarize(ctx, tally, run_id=None)
        else:
            with run_guard(as_of=as_of, currency=currency) as acquired:
                if not acquired:
                    log.warning("another run for this date and currency is in progress; nothing done")
                    return replace(_summarize(ctx, tally, run_id=None), already_running=True)
                run = _start_run(ctx, trigger=trigger, actor=actor, task_id=task_id)
                try:
                    _run(ctx, tally, on_progress)
                except BaseException as exc:  # Ctrl-C and time limits too: the run row says FAILED
                    log.exception("release failed")
                    _fail_run(run, tally, exc)
                    raise
                summary = _summarize(ctx, tally, run_id=run.pk)
                _finish_run(run, summary)
        log.info(
            "release finished",
            matured_found=summary.matured_found,
            executed_count=summary.executed_count,
            executed_amount=format_amount(summary.executed_amount, currency),
            skipped_count=summary.skipped_count,
            errors_count=summary.errors_count,
            locks_closed_count=summary.locks_closed_count,
            locks_missing_count=summary.locks_missing_count,
            exit_code=summary.exit_code,
        )
        return summary


@contextmanager
def run_guard(*, as_of: date, currency: str) -> Iterator[bool]:
    """A PostgreSQL session advisory lock per (as_of, currency): two beats, a redelivered
    message or a manual run at the same moment give one real run; the other gets False.
    (Lots are never released twice in any case: the guard avoids duelling runs.)"""
    if not is_postgres():
        yield True  # SQLite (the demo) serialises writers anyway
        return
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


def _run(ctx: _Context, tally: _Tally, on_progress: Callable[[int, int], None] | None) -> None:
    _count_selection(ctx, tally)
    progress = _Progress(tally, on_progress)
    if ctx.dry_run:
        after: tuple[date, int] | None = None
        while lots := _claim_chunk(ctx, after, lock=False):
            progress.add(_release_chunk(ctx, lots), len(lots))
            after = (lots[-1].release_day, lots[-1].id)
        return
    # Pass 1 claims with SKIP LOCKED, so concurrent runs share the work without waiting.
    # A final pass waits for the lots another transaction held, so none is left behind
    # silently (those the other run released no longer match and drop out).
    for wait in (False, True):
        keyset = _Keyset(exclude=frozenset(tally.error_lot_ids))  # failed earlier in this run: not retried
        workers = _writer_count(ctx, tally.matured_found - progress.done)
        if workers == 1:
            while chunk := _commit_next_chunk(ctx, keyset, wait=wait):
                progress.add(*chunk)
        else:
            _run_writers(ctx, keyset, progress, wait=wait, workers=workers)


@dataclass
class _Keyset:
    """Where the walk is: chunks are claimed in (release_day, id) order, one claim at a time."""

    exclude: frozenset[int]
    after: tuple[date, int] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Progress:
    """Merges committed chunks into the run's tally and reports progress."""

    def __init__(self, tally: _Tally, on_progress: Callable[[int, int], None] | None) -> None:
        self.tally = tally
        self.on_progress = on_progress
        self.done = 0

    def add(self, chunk: _Tally, lots: int, *, report: bool = True) -> None:
        self.tally.merge(chunk)  # after COMMIT: a chunk that rolled back is never counted
        self.done += lots
        if report and self.on_progress is not None:
            self.on_progress(self.done, max(self.done, self.tally.matured_found))


def _commit_next_chunk(ctx: _Context, keyset: _Keyset, *, wait: bool) -> tuple[_Tally, int] | None:
    """Claim the next chunk and release it in its own transaction; None when none is left."""
    with transaction.atomic():
        with keyset.lock:  # claims are serialised, so the keyset only moves forward
            lots = _claim_chunk(ctx, keyset.after, lock=True, wait=wait, exclude=keyset.exclude)
            if not lots:
                return None
            keyset.after = (lots[-1].release_day, lots[-1].id)
        chunk = _write_chunk(ctx, lots)
    return chunk, len(lots)


def _writer_count(ctx: _Context, remaining: int) -> int:
    """How many connections write chunks at once. More than one only on PostgreSQL, for
    more than one chunk, and outside a caller's transaction (other connections could
    not see its uncommitted rows and would wait on its locks)."""
    if not is_postgres() or connection.in_atomic_block or not connection.get_autocommit():
        return 1
    return max(1, min(ctx.workers, -(-remaining // ctx.chunk_size)))


def _run_writers(ctx: _Context, keyset: _Keyset, progress: _Progress, *, wait: bool, workers: int) -> None:
    """Write chunks on `workers` connections at once, each in its own thread: while one
    transaction runs its statements and checks in PostgreSQL, another plans its chunk in
    Python. Each chunk is still one transaction, claimed with the same locks as alone.

    Only this thread touches the tally and calls on_progress. The first error stops the
    other writers after their current chunk and is raised here. If this thread is
    interrupted (a Celery soft time limit, Ctrl-C), the writers' running queries are
    cancelled (one may be waiting on a row lock) and what they committed is counted."""
    results: queue.Queue = queue.Queue()
    stop = threading.Event()
    sessions: list = []  # the writers' psycopg connections, to cancel their queries

    def write_chunks() -> None:
        try:
            connection.ensure_connection()
            sessions.append(connection.connection)
            while not stop.is_set() and (chunk := _commit_next_chunk(ctx, keyset, wait=wait)):
                results.put(chunk)
        except BaseException as exc:  # re-raised by the calling thread
            stop.set()
            results.put(exc)
        finally:
            try:
                connection.close()  # this thread's own connection
            finally:
                results.put(None)

    threads = [
        # Each thread gets a copy of the context, so its log lines carry the trace id.
        threading.Thread(target=contextvars.copy_context().run, args=(write_chunks,), name=f"release-writer-{i}")
        for i in range(workers)
    ]
    errors: list[BaseException] = []
    started = []
    finished = False
    try:
        for thread in threads:
            thread.start()
            started.append(thread)
        running = len(started)
        while running:
            item = results.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                errors.append(item)
            else:
                progress.add(*item)
        finished = True
    finally:
        stop.set()
        for thread in started:
            thread.join(timeout=0 if not finished else None)
            while thread.is_alive():  # interrupted: cancel until the writers let go
                _cancel_queries(sessions)
                thread.join(timeout=1)
        while not results.empty():
            item = results.get()
            if isinstance(item, tuple):
                progress.add(*item, report=False)
            elif isinstance(item, BaseException):
                errors.append(item)
        # The first error is raised below (or this thread's interruption propagates): log the rest.
        for extra in errors[1:] if finished else errors:
            log.error("chunk writer failed", error=f"{type(extra).__name__}: {extra}")
    if errors:
        raise errors[0]


def _cancel_queries(sessions: list) -> None:
    for session in list(sessions):
        try:
            session.cancel_safe()
        except Exception:  # already closed: nothing to cancel
            log.debug("could not cancel a writer's query", exc_info=True)


def _count_selection(ctx: _Context, tally: _Tally) -> None:
    """matured_found, skipped_count and (for an explicit selection) the refused lots."""
    pending = pending_lots(vault=ctx.vault, as_of=ctx.as_of, lot_ids=ctx.lot_ids)
    tally.matured_found = pending.count()
    same_vault = VestingLot.objects.filter(vault=ctx.vault, currency=ctx.vault.currency)
    # The runbook skips a lot if status == RELEASED or released_amount >= amount.
    done_lots = same_vault.filter(Q(status=LotStatus.RELEASED) | Q(released_amount__gte=F("amount")))
    if ctx.lot_ids is None:
        # Replaying a day: its lots that are already released are skipped.
        tally.skipped_count = done_lots.filter(release_day=ctx.as_of).count()
        return
    found = dict(same_vault.filter(pk__in=ctx.lot_ids).values_list("pk", "release_day"))
    released = set(done_lots.filter(pk__in=ctx.lot_ids).values_list("pk", flat=True))
    tally.skipped_count = len(released)
    for lot_id in ctx.lot_ids:
        if lot_id not in found:
            tally.refused.append(RefusedLot(lot_id=lot_id, reason="NOT_FOUND"))
        elif found[lot_id] > ctx.as_of and lot_id not in released:
            tally.refused.append(RefusedLot(lot_id=lot_id, reason="NOT_MATURED"))


def _claim_chunk(
    ctx: _Context, after: tuple[date, int] | None, *, lock: bool, wait: bool = False, exclude: Set[int] = frozenset()
) -> list[_LotRow]:
    qs = pending_lots(vault=ctx.vault, as_of=ctx.as_of, lot_ids=ctx.lot_ids)
    if exclude:
        qs = qs.exclude(pk__in=sorted(exclude))  # failed earlier in this run: not retried
    if after is not None:
        # Keyset pagination: an index range scan, whatever came before.
        table = VestingLot._meta.db_table
        qs = qs.filter(
            RawSQL(  # noqa: S611 - constant SQL, values are parameters
                f'("{table}"."release_day", "{table}"."id") > (%s, %s)',
                (after[0].isoformat(), after[1]),
                output_field=BooleanField(),
            )
        )
    if lock:
        qs = qs.select_for_update(skip_locked=not wait)
    rows = qs.order_by("release_day", "id").values_list(*_LotRow.__dataclass_fields__)[: ctx.chunk_size]
    return [_LotRow(*row) for row in rows]


def _write_chunk(ctx: _Context, lots: list[_LotRow]) -> _Tally:
    """Write a claimed chunk set-based; if that fails, lot by lot so a bad lot fails alone."""
    # Lock every account of the chunk (in id order) outside the savepoints: rolling a
    # savepoint back would release them, and the lot-by-lot retry would then lock in lot order.
    wallets = wallet_states(user_ids={lot.user_id for lot in lots}, currency=ctx.vault.currency, for_update=True)
    try:
        with transaction.atomic():
            return _release_chunk(ctx, lots, wallets)
    except (DatabaseError, LedgerError) as exc:
        if _cancelled(exc):
            raise  # the run is stopping: no lot-by-lot retry
        log.warning(
            "chunk failed, retrying lot by lot",
            lots=len(lots),
            error=str(exc).splitlines()[0],
        )
    tally = _Tally()
    for lot in lots:
        try:
            with transaction.atomic():
                tally.merge(_release_chunk(ctx, [lot]))
        except (DatabaseError, LedgerError) as exc:
            if _cancelled(exc):
                raise
            tally.add_error(
                LotError(
                    lot_id=lot.id,
                    code=_error_code(exc),
                    message=str(exc).splitlines()[0],
                )
            )
    return tally


def _cancelled(exc: Exception) -> bool:
    """The query was cancelled (the run is being stopped), not refused because of a lot."""
    return isinstance(exc.__cause__, psycopg.errors.QueryCanceled)


def _error_code(exc: Exception) -> str:
    if isinstance(exc, IntegrityError) and "idempotency_key" in str(exc):
        return "ALREADY_RELEASED"
    if isinstance(exc, LedgerError):
        return exc.code
    return "DATABASE_ERROR"


def _release_chunk(
    ctx: _Context, lots: list[_LotRow], wallets: dict[tuple[int, str], tuple[int, AccountState]] | None = None
) -> _Tally:
    """Plan the chunk (balances, locks) and, unless dry, write it. The same planning
    serves both, so a dry run reports what a real run does. `wallets`: the chunk's
    accounts, freshly locked by the caller (else read here)."""
    tally = _Tally()
    write = not ctx.dry_run
    currency = ctx.vault.currency
    if wallets is None:
        wallets = wallet_states(user_ids={lot.user_id for lot in lots}, currency=currency, for_update=write)
    accounts = {key: pk for key, (pk, _) in wallets.items()}
    locked = dict(wallets.values())
    balances = {pk: state.balance - ctx.planned_debits.get(pk, Decimal(0)) for pk, state in locked.items()}

    # The unique key would refuse these in the database; say so in the plan too.
    keys = {release_idempotency_key(lot.id): lot.id for lot in lots}
    already = set(filter_in(Operation.objects.all(), "idempotency_key", keys).values_list("idempotency_key", flat=True))
    already_released = {keys[key] for key in already}

    releasable: list[tuple[_LotRow, int, int]] = []
    for lot in lots:
        available_id = accounts.get((lot.user_id, AccountKind.WALLET_AVAILABLE))
        locked_id = accounts.get((lot.user_id, AccountKind.WALLET_LOCKED))
        if lot.id in already_released:
            tally.add_error(LotError(lot.id, "ALREADY_RELEASED", "a release operation already exists for this lot"))
        elif available_id is None or locked_id is None:
            tally.add_error(
                LotError(
                    lot.id,
                    "ACCOUNT_MISSING",
                    f"user {lot.user_id} has no {currency} wallet",
                )
            )
        elif balances[locked_id] < lot.remaining:
            tally.add_error(
                LotError(
                    lot.id,
                    "INSUFFICIENT_LOCKED_BALANCE",
                    f"locked balance {format_amount(balances[locked_id], currency)} < "
                    f"release {format_amount(lot.remaining, currency)}",
                )
            )
        else:
            balances[locked_id] -= lot.remaining
            if not write:
                ctx.planned_debits[locked_id] = ctx.planned_debits.get(locked_id, Decimal(0)) + lot.remaining
            releasable.append((lot, available_id, locked_id))

    lot_keys = [
        LotKey(lot.id, lot.user_id, lot.amount, lot.deposit_day, lot.source_operation_id) for lot, _, _ in releasable
    ]
    matches = match_locks(vault=ctx.vault, lots=lot_keys, for_update=write, taken=ctx.planned_fallback_locks)
    if not write:
        ctx.planned_fallback_locks.update(m.lock.pk for m in matches.values() if m.via == "fallback")
    for lot, _, _ in releasable:
        match = matches.get(lot.id)
        tally.executed_count += 1
        tally.executed_amount += lot.remaining
        if match is None:
            tally.locks_missing_count += 1
            log.warning(
                "wallet lock not found; releasing anyway (the ledger prevails)",
                lot_id=lot.id,
                source_operation_id=str(lot.source_operation_id),
            )
            continue
        tally.locks_closed_count += 1
        if match.via == "fallback":
            tally.locks_matched_by_fallback += 1
            log.warning(
                "wallet lock matched by fallback",
                lot_id=lot.id,
                lock_id=match.lock.pk,
                candidates=match.candidates,
                source_operation_id=str(lot.source_operation_id),
            )
        if match.lock.amount > lot.remaining:
            tally.locks_split_count += 1
    if write and releasable:
        _write_releases(ctx, releasable, matches, locked)
    return tally


def _write_releases(
    ctx: _Context, releasable: list[tuple[_LotRow, int, int]], matches: dict, locked: dict[int, AccountState]
) -> None:
    now = timezone.now()
    currency = ctx.vault.currency
    specs = [
        OperationSpec(
            type=OperationType.VAULT_VESTING_RELEASE,
            user_id=lot.user_id,
            currency=currency,
            amount=lot.remaining,
            idempotency_key=release_idempotency_key(lot.id),
            metadata={
                "trace_id": ctx.trace_id,
                "release_amount": format_amount(lot.remaining, currency),
                "vault_code": ctx.vault.code,
                "lot_id": lot.id,
            },
            legs=(Leg(locked_id, -lot.remaining), Leg(available_id, lot.remaining)),
        )
        for lot, available_id, locked_id in releasable
    ]
    post_operations(specs=specs, at=now, locked=locked)
    update_rows(
        VestingLot,
        key="id",
        fields=[
            "released_amount",
            "status",
            "last_release_operation",
            "last_released_at",
        ],
        rows=[
            (lot.id, lot.amount, LotStatus.RELEASED, spec.id, now)
            for (lot, _, _), spec in zip(releasable, specs, strict=True)
        ],
    )
    close_locks(
        closures=[
            LockClosure(
                lock=matches[lot.id].lock,
                release_amount=lot.remaining,
                release_operation_id=spec.id,
            )
            for (lot, _, _), spec in zip(releasable, specs, strict=True)
            if lot.id in matches
        ],
        at=now,
    )
    if is_postgres():
        # Run the deferred foreign-key checks now, inside this savepoint, so a chunk
        # that breaks one fails here (and is retried lot by lot), not at COMMIT.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    log.debug("chunk written", lots=len(specs))


def _summarize(ctx: _Context, tally: _Tally, *, run_id: int | None) -> ReleaseSummary:
    return ReleaseSummary(
        trace_id=ctx.trace_id,
        as_of=ctx.as_of,
        currency=ctx.vault.currency,
        dry_run=ctx.dry_run,
        matured_found=tally.matured_found,
        executed_count=tally.executed_count,
        executed_amount=tally.executed_amount,
        skipped_count=tally.skipped_count,
        errors_count=tally.errors_count,
        errors=tuple(tally.errors),
        locks_closed_count=tally.locks_closed_count,
        locks_missing_count=tally.locks_missing_count,
        locks_matched_by_fallback=tally.locks_matched_by_fallback,
        locks_split_count=tally.locks_split_count,
        refused=tuple(tally.refused),
        run_id=run_id,
    )


def _start_run(ctx: _Context, *, trigger: str, actor: str, task_id: str) -> ReleaseRun:
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


def _finish_run(run: ReleaseRun, summary: ReleaseSummary) -> None:
    run.finished_at = timezone.now()
    run.status = RunStatus.COMPLETED_WITH_ERRORS if summary.errors_count else RunStatus.SUCCEEDED
    run.exit_code = summary.exit_code
    run.executed_count = summary.executed_count
    run.executed_amount = summary.executed_amount
    run.errors_count = summary.errors_count
    run.summary = summary.to_runbook_json()
    run.save(
        update_fields=[
            "finished_at",
            "status",
            "exit_code",
            "executed_count",
            "executed_amount",
            "errors_count",
            "summary",
        ]
    )


def _fail_run(run: ReleaseRun, tally: _Tally, exc: Exception) -> None:
    """Record a run that crashed; what its committed chunks released stays released."""
    if connection.needs_rollback or connection.in_atomic_block:
        return  # inside a broken outer transaction: nothing can be written now
    ReleaseRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        status=RunStatus.FAILED,
        exit_code=1,
        executed_count=tally.executed_count,
        executed_amount=tally.executed_amount,
        errors_count=tally.errors_count,
        error=f"{type(exc).__name__}: {exc}"[:2000],
    )
