"""Helpers to run the compose services' own commands locally against the TEST database.

The commands are read from docker-compose.yml, so what the tests exercise is what
the deployment runs (see test_compose.py). Only the executables are mapped to this
virtualenv, and a test may append test-only flags (e.g. beat's --max-interval).
"""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from django.conf import settings
from django.db import connection

from common.database_url import database_url

ROOT = Path(settings.BASE_DIR)


def compose() -> dict:
    with open(ROOT / "docker-compose.yml") as fh:
        return yaml.safe_load(fh)


def service_command(name: str) -> list[str]:
    command = compose()["services"][name]["command"]
    assert isinstance(command, list), f"{name}: use the exec (list) form for command"
    return [str(part) for part in command]


def local_argv(command: list[str]) -> list[str]:
    """Map the image's executables to this virtualenv."""
    head, *rest = command
    mapping = {
        "celery": [sys.executable, "-m", "celery"],
        "gunicorn": [sys.executable, "-m", "gunicorn"],
        "python": [sys.executable],
    }
    return [*mapping.get(head, [head]), *rest]


def subprocess_env() -> dict[str, str]:
    """The environment of a subprocess that must use the TEST database (not the dev one)."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(connection.settings_dict),
        DATABASE_CONN_MAX_AGE="0",
        DJANGO_DEBUG="true",
        DJANGO_SECRET_KEY="test-only-secret",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        TZ="UTC",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` in a subprocess on the test database, with `env` on top."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**subprocess_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def running(argv: list[str], *, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """Start a process in its own process group; always stop that group at the end."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group we created: the process and its pool children
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):  # pool children still alive after their parent exited
        os.killpg(proc.pid, signal.SIGKILL)
