"""The dead man's switch: the scheduled release task checks in with a real HTTP server on this
machine (/start, then success or /fail), and a monitor that is down or hangs never fails the
run or holds it up longer than the timeout."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vaults.exceptions import InvalidRelease
from vaults.models import ReleaseRun, RunStatus, VestingLot
from vaults.monitoring.checkin import checkin_url
from vaults.services.release import utc_today
from vaults.tasks import release_avenir_vesting, release_selected_avenir_lots
from vaults.tests.factories import DepositFactory
from vaults.tests.support.production import free_port

pytestmark = pytest.mark.django_db(transaction=True)


class Monitor:
    """A check-in receiver on 127.0.0.1: records each request's path and arrival time."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, float]] = []
        monitor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                monitor.hits.append((self.path, time.time()))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ping/0b7e-uuid"

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.hits]


@contextmanager
def monitor() -> Iterator[Monitor]:
    m = Monitor()
    thread = threading.Thread(target=m.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield m
    finally:
        m.server.shutdown()
        m.server.server_close()


@contextmanager
def hanging_monitor() -> Iterator[tuple[str, list[float]]]:
    """Accepts connections and reads the request, and never answers (until the test ends)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    arrivals: list[float] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            arrivals.append(time.time())
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/ping/hangs", arrivals
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def events(caplog, name: str) -> list[dict]:
    return [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == name]


def test_a_good_run_checks_in_start_then_success(avenir, settings):
    DepositFactory(release_day=utc_today())
    with monitor() as m:
        settings.AVENIR_RELEASE_CHECKIN_URL = m.url
        summary = release_avenir_vesting.apply(kwargs={"currency": "AED"}).get()
    assert summary["exit_code"] == 0 and summary["summary"]["executed_count"] == 1
    assert m.paths == ["/ping/0b7e-uuid/start", "/ping/0b7e-uuid"]
    run = ReleaseRun.objects.get(trace_id=summary["trace_id"])
    started, finished = m.hits[0][1], m.hits[1][1]
    assert started <= run.started_at.timestamp() and run.finished_at.timestamp() <= finished  # around the run


def test_a_refused_task_and_a_run_with_errors_check_in_fail(avenir, settings):
    with monitor() as m:
        settings.AVENIR_RELEASE_CHECKIN_URL = m.url
        with pytest.raises(InvalidRelease):
            release_avenir_vesting.apply(kwargs={"currency": "AED", "dry_run": "false"}).get()
        assert m.paths == ["/ping/0b7e-uuid/start", "/ping/0b7e-uuid/fail"]

        bad = DepositFactory(release_day=utc_today() - timedelta(days=1))
        VestingLot.objects.filter(pk=bad.lot_id).update(amount=Decimal("25000.00"))  # more than is locked
        summary = release_avenir_vesting.apply(kwargs={"currency": "AED"}).get()
        assert summary["exit_code"] == 1 and summary["summary"]["errors_count"] == 1
        assert ReleaseRun.objects.get(trace_id=summary["trace_id"]).status == RunStatus.COMPLETED_WITH_ERRORS
        assert m.paths[2:] == ["/ping/0b7e-uuid/start", "/ping/0b7e-uuid/fail"]


def test_only_the_scheduled_task_checks_in_and_only_when_configured(avenir, settings):
    lots = [DepositFactory(release_day=utc_today()).lot_id for _ in range(2)]
    with monitor() as m:
        settings.AVENIR_RELEASE_CHECKIN_URL = m.url
        release_selected_avenir_lots.apply(kwargs={"currency": "AED", "lot_ids": lots[:1], "actor": "admin"}).get()
        assert m.paths == []  # an admin selection is not the daily job
        settings.AVENIR_RELEASE_CHECKIN_URL = ""
        assert release_avenir_vesting.apply(kwargs={"currency": "AED"}).get()["summary"]["executed_count"] == 1
        assert m.paths == []


def test_a_monitor_that_refuses_is_logged_and_the_run_goes_on(avenir, settings, caplog):
    DepositFactory(release_day=utc_today())
    settings.AVENIR_RELEASE_CHECKIN_URL = f"http://127.0.0.1:{free_port()}/ping/secret-uuid"  # nothing listens
    summary = release_avenir_vesting.apply(kwargs={"currency": "AED"}).get()
    assert summary["exit_code"] == 0 and summary["summary"]["executed_count"] == 1
    failures = events(caplog, "check-in failed; the release goes on")
    assert [f["signal"] for f in failures] == ["start", "success"]
    assert all(f["error"] == "URLError" and f["host"].startswith("127.0.0.1:") for f in failures)
    assert "secret-uuid" not in caplog.text  # the URL's secret part is never logged


def test_a_monitor_that_hangs_delays_the_run_by_at_most_the_timeout(avenir, settings, caplog):
    DepositFactory(release_day=utc_today())
    timeout = 1.0
    settings.AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS = timeout
    with hanging_monitor() as (url, arrivals):
        settings.AVENIR_RELEASE_CHECKIN_URL = url
        began = time.time()
        summary = release_avenir_vesting.apply(kwargs={"currency": "AED"}).get()
        ended = time.time()
    assert summary["exit_code"] == 0 and summary["summary"]["executed_count"] == 1
    run = ReleaseRun.objects.get(trace_id=summary["trace_id"])
    assert len(arrivals) == 2  # both pings reached the monitor, which never answered
    # The release started once the /start ping gave up: after the timeout, and not much later.
    assert timeout <= run.started_at.timestamp() - began < timeout + 1.0
    assert timeout <= ended - run.finished_at.timestamp() < timeout + 2.0  # the ledger check, then the ping
    assert [(f["signal"], f["error"]) for f in events(caplog, "check-in failed; the release goes on")] == [
        ("start", "timeout"),
        ("success", "timeout"),
    ]


def test_the_suffix_goes_at_the_end_of_the_path():
    assert checkin_url("https://hc-ping.com/abc", "start") == "https://hc-ping.com/abc/start"
    assert checkin_url("https://hc-ping.com/abc/", "success") == "https://hc-ping.com/abc"
    assert checkin_url("https://hc-ping.com/key/slug?create=1", "fail") == "https://hc-ping.com/key/slug/fail?create=1"
