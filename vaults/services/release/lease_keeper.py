"""The heartbeat of a real run, from a thread of its own.

A run renews its lease with every chunk, but a chunk can take long (a lock wait, a big
statement, a reconnect) and the calling thread of several writers only waits. So a
thread renews the lease every AVENIR_RELEASE_HEARTBEAT_SECONDS whatever the chunks do,
and the lease can be short (AVENIR_RELEASE_LEASE_SECONDS, about a minute): a run whose
process died loses its lease within a minute, and a live run never does.

Each beat opens a connection, renews, and closes it: no connection of the keeper sits
idle (idle_session_timeout, a pooler's idle timeouts), and a restarted server or pooler
costs at most a missed beat. A beat that finds the row no longer RUNNING means another
run took over: `lost` is set and the writers stop before their next chunk (their
chunk's own renewal would refuse to commit anyway).
"""

import contextvars
import threading
import time

import structlog
from django.conf import settings
from django.db import connection

from vaults.exceptions import LeaseLost
from vaults.services.release.runs import RUNS, heartbeat
from vaults.services.release.transactions import describe

log = structlog.get_logger("vaults.release")


class LeaseKeeper:
    def __init__(self, run_id: int, *, table: str = RUNS, interval: float | None = None) -> None:
        self.run_id = run_id
        self.table = table
        self.interval = settings.AVENIR_RELEASE_HEARTBEAT_SECONDS if interval is None else interval
        self.lost = threading.Event()
        self.beats = 0
        self._stop = threading.Event()
        # A copy of the caller's context: the keeper's log lines carry the run's trace id.
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._run,), name=f"release-lease-{run_id}", daemon=True
        )

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        """Raise LeaseLost when a beat found that another run took over."""
        if self.lost.is_set():
            raise LeaseLost(f"run {self.run_id} lost its lease: another run took it over")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            started = time.monotonic()
            try:
                heartbeat(self.run_id, table=self.table)
                self.beats += 1
            except LeaseLost:
                log.warning("lease lost: another run took this run over; stopping", run_id=self.run_id)
                self.lost.set()
                return
            except Exception as exc:  # a missed beat; the next one tries again on a new connection
                log.warning("heartbeat failed", error=describe(exc))
            finally:
                _close()
            log.debug("heartbeat", seconds=round(time.monotonic() - started, 4))


def _close() -> None:
    try:
        connection.close()
    except Exception:
        log.debug("closing the heartbeat connection failed", exc_info=True)
