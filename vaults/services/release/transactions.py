"""The transactions of a run (each chunk, the first count): bounded waits, a clean
stop when interrupted, and which errors mean the connection was lost.

Each chunk sets its own lock_timeout, statement_timeout and
idle_in_transaction_session_timeout (SET LOCAL, so nothing leaks to another client of a
transaction pooler). The last one lets the server end the transaction of a frozen
process (SIGSTOP, a paused VM) and free its row locks before its lease expires and
another run takes over. If the caller is interrupted in the
middle of a statement (a Celery soft time limit, SIGTERM, any exception raised by a
signal handler), the server-side query is cancelled before the connection is dropped:
otherwise PostgreSQL would keep running it, holding its row locks, until it finished.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import structlog
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from psycopg import pq

log = structlog.get_logger("vaults.release")

CANCEL_TIMEOUT_SECONDS = 5.0
TIMEOUT_CODES = frozenset({"LOCK_TIMEOUT", "STATEMENT_TIMEOUT"})


@contextmanager
def bounded_transaction() -> Iterator:
    """An atomic block with the release's lock and statement timeouts; yields its cursor.
    An interruption in the middle of one of its statements cancels it on the server."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true), "
            "set_config('idle_in_transaction_session_timeout', %s, true)",
            [
                _ms(settings.AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS),
                _ms(settings.AVENIR_RELEASE_STATEMENT_TIMEOUT_SECONDS),
                _ms(settings.AVENIR_RELEASE_IDLE_IN_TRANSACTION_SECONDS),
            ],
        )
        try:
            yield cursor
        except BaseException as exc:
            stop_interrupted_query(exc)
            raise


# Each chunk is one bounded transaction.
chunk_transaction = bounded_transaction


def stop_interrupted_query(exc: BaseException) -> None:
    """When `exc` interrupted this thread's connection mid-statement, cancel the query
    on the server and close the connection (PostgreSQL rolls its transaction back).
    psycopg does this itself only for KeyboardInterrupt; a database error means the
    statement already ended."""
    raw = connection.connection
    if raw is None or isinstance(exc, DatabaseError) or raw.pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
        return
    log.warning("interrupted during a statement: cancelling it on the server", interruption=type(exc).__name__)
    cancel_session(raw)
    connection.close()


def cancel_session(raw: psycopg.Connection) -> None:
    """Cancel the statement running on `raw` (a psycopg connection), waiting a bounded time."""
    try:
        raw.cancel_safe(timeout=CANCEL_TIMEOUT_SECONDS)
    except Exception:  # closed already, or the server is gone: nothing left to cancel
        log.debug("could not cancel a running statement", exc_info=True)


def timeout_code(exc: Exception) -> str | None:
    """LOCK_TIMEOUT or STATEMENT_TIMEOUT when `exc` is a chunk's timeout, else None."""
    if not isinstance(exc, OperationalError):
        return None
    cause = exc.__cause__
    if isinstance(cause, psycopg.errors.LockNotAvailable):
        return "LOCK_TIMEOUT"
    if isinstance(cause, psycopg.errors.QueryCanceled) and "statement timeout" in str(cause):
        return "STATEMENT_TIMEOUT"
    return None


# The server ended the session or cannot take one now: shutdown, restart, crash recovery,
# idle timeouts, too many connections. Class 08 (connection exceptions) is added below.
_SESSION_ENDED = frozenset({"57P01", "57P02", "57P03", "57P05", "25P03", "53300"})


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` means this connection is gone (or none can be opened yet): the server
    restarted or ended the session, the pooler restarted, the network dropped. The
    transaction in flight is lost with it; reconnecting may succeed. A timeout, a cancelled
    query or an error about the rows is not a lost connection."""
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    if isinstance(exc, InterfaceError) or isinstance(cause, psycopg.InterfaceError):
        return True  # "the connection is closed"
    if not isinstance(cause, psycopg.Error):
        return False
    state = cause.sqlstate
    if state is None:  # no server error: the socket failed (refused, reset, closed unexpectedly)
        return isinstance(cause, psycopg.OperationalError)
    return state.startswith("08") or state in _SESSION_ENDED


def describe(exc: BaseException) -> str:
    """`Type: first line of the message`, for one-line logs and run rows."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"
