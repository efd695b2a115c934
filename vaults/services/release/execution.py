"""Running the chunks of a real run (a release, a reversal: any engine of chunks.py): on
the caller's connection, or on several connections at once.

Each chunk is one transaction on one connection. With several writers, while one
transaction runs in PostgreSQL another is being sent; only the calling thread merges
results and reports progress, and it holds no connection meanwhile (nothing of the run
sits idle: the lease keeper renews the lease from its own thread). Any interruption of
the caller (Ctrl-C, a Celery soft time limit) cancels the writers' running queries,
since one may be waiting on a row lock, then joins them; what they committed is counted.

A writer that loses its connection waits for the database and goes on (reconnect.py);
the chunk it lost is walked again by another pass, and one whose COMMIT was in doubt is
counted if PostgreSQL says it committed.
"""

import contextvars
import queue
import threading
from collections.abc import Callable

import structlog
from django.db import connection

from vaults.services.release.chunks import ChunkEngine, ChunkLost, Dispatcher, RunFailures, commit_next_chunk
from vaults.services.release.lease_keeper import LeaseKeeper
from vaults.services.release.reconnect import committed, wait_for_database
from vaults.services.release.results import Tally
from vaults.services.release.transactions import cancel_session, stop_interrupted_query

log = structlog.get_logger("vaults.release")

# Passes that walk the remaining lots again after a lost connection, before the run gives up.
MAX_PASSES = 10


class Progress:
    """Merges committed chunks into the run's tally and reports progress."""

    def __init__(self, tally: Tally, total: int, on_progress: Callable[[int, int], None] | None) -> None:
        self.tally = tally
        self.total = total
        self.on_progress = on_progress
        self.done = 0
        # A chunk was lost with its connection: its lots need another pass.
        self.walk_again = threading.Event()

    def add(self, chunk: Tally, lots: int, *, report: bool = True) -> None:
        self.tally.merge(chunk)  # after COMMIT: a chunk that rolled back is never counted
        self.done += lots
        if report and lots and self.on_progress is not None:
            self.on_progress(self.done, max(self.done, self.total))


def run_chunks(engine: ChunkEngine, progress: Progress, keeper: LeaseKeeper) -> None:
    """Pass 1 claims with SKIP LOCKED, so concurrent runs share the work without waiting.
    A final pass waits for the lots another transaction held, so none is left behind
    silently (those the other run released no longer match and drop out); it is walked
    again while a pass lost chunks with a connection."""
    failures = RunFailures()
    for number in range(MAX_PASSES):
        wait = number > 0
        progress.walk_again.clear()
        dispatcher = engine.dispatcher(failures)
        workers = writer_count(engine, progress.total - progress.done)
        if workers == 1:
            _write_alone(engine, dispatcher, failures, progress, keeper, wait=wait)
        else:
            _run_writers(engine, dispatcher, failures, progress, keeper, wait=wait, workers=workers)
        if wait and not progress.walk_again.is_set():
            return
    raise RuntimeError(f"lost the database connection in {MAX_PASSES} passes in a row; giving up")


def writer_count(engine: ChunkEngine, remaining: int) -> int:
    """More than one connection only for more than one chunk, and outside a caller's
    transaction (other connections could not see its uncommitted rows and would wait
    on its locks)."""
    if connection.in_atomic_block or not connection.get_autocommit():
        return 1
    return max(1, min(engine.workers, -(-remaining // engine.chunk_size)))


def recover(lost: ChunkLost, failures: RunFailures, stop: threading.Event | None = None) -> list[tuple[Tally, int]]:
    """After a lost connection: wait for the database, then what of the lost work committed."""
    if connection.in_atomic_block:
        raise lost.cause  # the caller's own transaction is gone with the connection
    wait_for_database(lost.cause, stop=stop)
    done = [lost.done] if lost.done else []
    if lost.in_doubt is not None and committed(lost.in_doubt.xid):
        log.info("the chunk whose commit was in doubt did commit", lots=lost.in_doubt.selected)
        done.append((lost.in_doubt.tally, lost.in_doubt.selected))
    for tally, _ in done:
        failures.add(tally)
    return done


def _write_alone(
    engine: ChunkEngine,
    dispatcher: Dispatcher,
    failures: RunFailures,
    progress: Progress,
    keeper: LeaseKeeper,
    *,
    wait: bool,
) -> None:
    while True:
        keeper.check()
        try:
            chunk = commit_next_chunk(engine, dispatcher, failures, wait=wait)
        except ChunkLost as lost:
            for part in recover(lost, failures):
                progress.add(*part)
            progress.walk_again.set()
            continue
        if chunk is None:
            return
        progress.add(*chunk)


def _run_writers(
    engine: ChunkEngine,
    dispatcher: Dispatcher,
    failures: RunFailures,
    progress: Progress,
    keeper: LeaseKeeper,
    *,
    wait: bool,
    workers: int,
) -> None:
    """The first error stops the other writers after their current chunk and is raised
    here; chunks that committed stay released and are counted."""
    results: queue.Queue = queue.Queue()
    stop = threading.Event()
    sessions: list = []  # the writers' psycopg connections, to cancel their queries

    def write_chunks() -> None:
        try:
            connection.ensure_connection()
            sessions.append(connection.connection)
            while not stop.is_set():
                keeper.check()
                try:
                    chunk = commit_next_chunk(engine, dispatcher, failures, wait=wait)
                except ChunkLost as lost:
                    for part in recover(lost, failures, stop):
                        results.put(part)
                    progress.walk_again.set()
                    sessions.append(connection.connection)
                    continue
                if chunk is None:
                    return
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
    connection.close()  # the caller only waits: its connection would sit idle
    errors: list[BaseException] = []
    started = []
    finished = False
    try:
        for thread in threads:
            thread.start()
            started.append(thread)
        running = len(started)
        while running:
            try:
                item = results.get(timeout=1)
            except queue.Empty:
                continue
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                errors.append(item)
            else:
                progress.add(*item)
        finished = True
    except BaseException as exc:
        stop_interrupted_query(exc)
        raise
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
        if session is not None:
            cancel_session(session)
