"""The watchdog's picture of the server names the session that waits and the one it waits on."""

import threading

import pytest

from common.tests.support import watchdog
from common.tests.support.server import connect

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_picture_shows_who_waits_on_whom(database_server):
    with connect(database_server, autocommit=True) as holder, connect(database_server, autocommit=True) as waiter:
        holder.execute("CREATE TABLE IF NOT EXISTS watchdog_probe (id int)")
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE watchdog_probe IN ACCESS EXCLUSIVE MODE")
        holder_pid, waiter_pid = holder.info.backend_pid, waiter.info.backend_pid
        blocked = threading.Thread(target=lambda: waiter.execute("SELECT count(*) FROM watchdog_probe"))
        blocked.start()
        try:
            picture = ""
            for _ in range(100):  # until the waiter is seen waiting (bounded: 10 s)
                picture = watchdog.server_activity(database_server)
                if f"[{holder_pid}]" in picture:
                    break
                threading.Event().wait(0.1)
        finally:
            holder.execute("ROLLBACK")
            blocked.join(timeout=10)
            holder.execute("DROP TABLE watchdog_probe")
    waiting = next(line for line in picture.splitlines() if line.startswith(f"  ({waiter_pid},"))
    assert "'Lock'" in waiting and f"[{holder_pid}]" in waiting
    assert f"({waiter_pid}, 'relation', 'AccessShareLock'" in picture.split("locks waited for")[1]
    assert f"{holder_pid}, 'AccessExclusiveLock')" in picture.split("locks waited for")[1]


def test_the_timer_reports_once_it_is_due_and_not_when_cancelled(database_server, capsys):
    watchdog.start("due", 0.05, lambda: database_server).join(timeout=10)
    cancelled = watchdog.start("cancelled", 5, lambda: database_server)
    cancelled.cancel()
    err = capsys.readouterr().err
    assert "[watchdog] due still running after 0 s" in err and "sessions (pid" in err
    assert "cancelled" not in err
