"""The embedded PostgreSQL's command line, as the scripts run it, for tests that start a
throwaway server of their own (never the session's test server)."""

import subprocess
import sys

from common.embedded_postgres import CHECKOUT


def cli(*args: str) -> str:
    """`python -m common.embedded_postgres ARGS`; its stdout (e.g. the DATABASE_URL of `url`)."""
    done = subprocess.run(
        [sys.executable, "-m", "common.embedded_postgres", *args],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode:
        raise AssertionError(f"embedded_postgres {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout.strip()
