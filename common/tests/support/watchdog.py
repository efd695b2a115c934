"""A test that nears its timeout prints what its database server is doing: which sessions
wait, on what, behind whom, and since when. pytest-timeout then fails it as before; the
picture of the server is in the test's captured stderr, so a hang seen once (in CI) says why.
"""

import sys
import threading
from collections.abc import Callable
from typing import Any

from common.tests.support.server import connect

# Server sessions other than the watchdog's own, longest-running first.
ACTIVITY_SQL = """
SELECT pid, datname, application_name, state, wait_event_type, wait_event, pg_blocking_pids(pid),
       round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_seconds,
       round(extract(epoch FROM now() - query_start)::numeric, 1) AS query_seconds,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 400)
  FROM pg_stat_activity
 WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
 ORDER BY xact_start NULLS LAST
"""
# Locks not granted, with who holds what they want (the relation's oid: the watchdog is connected
# to another database, where regclass cannot name it).
WAITING_LOCKS_SQL = """
SELECT w.pid, w.locktype, w.mode, w.relation, h.pid AS holder, h.mode AS held
  FROM pg_locks w
  LEFT JOIN pg_locks h ON h.granted AND h.pid <> w.pid AND h.locktype = w.locktype
       AND h.database IS NOT DISTINCT FROM w.database AND h.relation IS NOT DISTINCT FROM w.relation
       AND h.transactionid IS NOT DISTINCT FROM w.transactionid
 WHERE NOT w.granted
"""


def server_activity(server: dict[str, Any]) -> str:
    with connect(server, dbname="postgres", autocommit=True) as conn:
        lines = ["sessions (pid, db, app, state, wait type, wait, blocked by, xact s, query s, query):"]
        lines += [f"  {row}" for row in conn.execute(ACTIVITY_SQL)]
        lines.append("locks waited for (pid, type, mode, relation oid, holder, held):")
        lines += [f"  {row}" for row in conn.execute(WAITING_LOCKS_SQL)]
    return "\n".join(lines)


def start(nodeid: str, seconds: float, server: Callable[[], dict[str, Any]]) -> threading.Timer:
    """A timer that, unless cancelled within `seconds`, prints the server's activity."""

    def report() -> None:
        try:
            picture = server_activity(server())
        except Exception as error:  # the picture is a help, never a new failure
            picture = f"(could not read the server's activity: {error!r})"
        print(f"\n[watchdog] {nodeid} still running after {seconds:.0f} s\n{picture}", file=sys.stderr, flush=True)

    timer = threading.Timer(seconds, report)
    timer.daemon = True
    timer.start()
    return timer
