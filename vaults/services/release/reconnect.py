"""A lost connection is not the end of a run.

When PostgreSQL restarts, fails over, or ends the session, or the pooler restarts, the
transaction in flight is lost and nothing else: every committed chunk is on disk and on
the run row. The thread that lost its connection waits for the database (exponential
backoff, each attempt bounded by the connect timeout, the whole wait by
AVENIR_RELEASE_RECONNECT_SECONDS) and the run goes on under the same lease.

One case needs care: a connection lost while COMMIT was on its way. The chunk may or may
not have committed. Each chunk records its transaction id before committing, and
PostgreSQL answers afterwards whether that transaction committed (pg_xact_status), so the
chunk is counted exactly once either way.
"""

import threading
import time

import structlog
from django.conf import settings
from django.db import connection

from vaults.services.release.transactions import connection_lost, describe

log = structlog.get_logger("vaults.release")

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 10.0


def wait_for_database(lost: BaseException, *, stop: threading.Event | None = None) -> None:
    """Close this thread's connection and open a new one, backing off between attempts,
    until the database answers. Raises `lost` when it does not answer within
    AVENIR_RELEASE_RECONNECT_SECONDS, or when `stop` is set meanwhile."""
    budget = settings.AVENIR_RELEASE_RECONNECT_SECONDS
    started = time.monotonic()
    delay = FIRST_DELAY_SECONDS
    log.warning("database connection lost; reconnecting", error=describe(lost), budget_seconds=budget)
    while True:
        _close()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as again:
            if not connection_lost(again):
                raise
            waited = time.monotonic() - started
            if waited + delay > budget:
                log.error("database still unreachable; giving up", waited_seconds=round(waited, 1))
                raise lost from again
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):  # the run is stopping: no point in waiting longer
                raise lost from again
            delay = min(delay * 2, MAX_DELAY_SECONDS)
            continue
        log.info("reconnected", after_seconds=round(time.monotonic() - started, 1))
        return


def committed(xid: str, *, wait_seconds: float | None = None) -> bool:
    """Whether transaction `xid` (pg_current_xact_id() of a chunk) committed, asked on a
    working connection after its own was lost. A transaction still 'in progress' is
    a session the server has not noticed is gone yet: asked again until it ends."""
    deadline = time.monotonic() + (
        settings.AVENIR_RELEASE_STATEMENT_TIMEOUT_SECONDS if wait_seconds is None else wait_seconds
    )
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_xact_status(%s::xid8)", [xid])
            status = cursor.fetchone()[0]
        if status != "in progress":
            return status == "committed"
        if time.monotonic() > deadline:
            raise RuntimeError(f"transaction {xid} of a lost connection is still in progress")
        time.sleep(FIRST_DELAY_SECONDS)


def _close() -> None:
    try:
        connection.close()
    except Exception:  # the socket is already gone; Django forgets the connection anyway
        log.debug("closing a lost connection failed", exc_info=True)
