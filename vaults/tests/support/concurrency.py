"""Waiting for a condition, and running code in real threads, each with its own PostgreSQL
connection (closed when the thread ends, so the test database can be dropped)."""

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connections

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll until predicate() is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def in_thread(target: Callable[..., Any], *args: Any, out: dict | None = None) -> tuple[threading.Thread, dict]:
    """Start target(*args) in a thread; its result lands in out["result"], or its exception in out["error"]."""
    out = {} if out is None else out

    def run() -> None:
        try:
            out["result"] = target(*args)
        except BaseException as exc:  # reported to the test
            out["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def run_together(calls: Sequence[Callable[[], T]], *, timeout: float = 120) -> list[T]:
    """Start every call at the same moment; return their results (or raise the first error)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = call()
        except BaseException as exc:  # surfaced below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a call did not finish"
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results
