"""The dead man's switch of the scheduled release: check-ins to an external monitor.

Nothing inside the stack can notice that beat never sent the task, or that the worker never
ran it: an outside service that expects a ping every day can. With
AVENIR_RELEASE_CHECKIN_URL set (a healthchecks.io check URL, or any service that follows
its convention, such as Sentry Crons' HTTP check-ins), the scheduled task pings
`<url>/start` before the release, then `<url>` when it finished cleanly (exit code 0,
also when another live run of the day held the lease) or `<url>/fail` when it failed,
was refused, or completed with errors.

A ping never fails or holds up the run for long: each waits at most
AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS in total (DNS included: it is sent from a helper
thread that is left behind when the time is up), and any failure is only logged. The URL
holds the monitor's secret, so logs show its host only.
"""

import functools
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog
from celery.exceptions import Retry
from django.conf import settings

log = structlog.get_logger("vaults.checkin")

START, SUCCESS, FAIL = "start", "success", "fail"
_SUFFIX = {START: "/start", SUCCESS: "", FAIL: "/fail"}


def checkin_url(base: str, signal: str) -> str:
    """The healthchecks.io convention: the suffix goes at the end of the path, before any query."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + _SUFFIX[signal]))


def ping(signal: str, *, url: str | None = None, timeout: float | None = None) -> bool:
    """Send one check-in; True when the monitor answered 2xx within the timeout.

    Returns False (and logs) on any failure: a refused connection, an HTTP error, a timeout."""
    base = settings.AVENIR_RELEASE_CHECKIN_URL if url is None else url
    if not base:
        return False
    timeout = settings.AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS if timeout is None else timeout
    target = checkin_url(base, signal)
    if urlsplit(target).scheme not in ("http", "https"):  # never file: or another opener's scheme
        log.warning("check-in skipped: not an http(s) URL", signal=signal)
        return False
    outcome: dict[str, Any] = {}

    def send() -> None:
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            target, method="GET", headers={"User-Agent": "vancelian-avenir-checkin"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                outcome["status"] = response.status
        except urllib.error.HTTPError as exc:
            outcome["status"] = exc.code
        except (OSError, ValueError) as exc:  # refused, unreachable, timed out, DNS
            outcome["error"] = type(exc).__name__

    # The socket timeout bounds each step, not DNS or the sum of the steps: the wait is bounded here.
    sender = threading.Thread(target=send, name=f"checkin-{signal}", daemon=True)
    sender.start()
    sender.join(timeout)
    host = urlsplit(target).netloc.rpartition("@")[2]
    status = outcome.get("status")
    if sender.is_alive() or "error" in outcome or status is None or not 200 <= status < 300:
        log.warning(
            "check-in failed; the release goes on",
            signal=signal,
            host=host,
            http_status=status,
            error="timeout" if sender.is_alive() else outcome.get("error"),
            timeout_seconds=timeout,
        )
        return False
    log.info("checked in", signal=signal, host=host)
    return True


def checked_in(task_function: Callable[..., dict]) -> Callable[..., dict]:
    """Wrap the scheduled release task: /start before it, then success or /fail after it.

    A Celery retry is not a failure (the retried attempt checks in again); any other
    exception is, and is re-raised unchanged."""

    @functools.wraps(task_function)
    def run(*args: Any, **kwargs: Any) -> dict:
        if not settings.AVENIR_RELEASE_CHECKIN_URL:
            return task_function(*args, **kwargs)
        ping(START)
        try:
            result = task_function(*args, **kwargs)
        except Retry:
            raise
        except BaseException:
            ping(FAIL)
            raise
        ping(SUCCESS if result.get("exit_code") == 0 else FAIL)
        return result

    return run
