"""The production environment of `.env.example`, for subprocesses run against the test database,
and the compose `web` command (gunicorn, DEBUG off, static files collected and served by
whitenoise): `serve_web` starts one with extra settings, and the `web` fixture (in
vaults/tests/conftest.py) is the one the production tests share."""

import re
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.metrics import METRICS_TOKEN
from vaults.tests.support.stack import ROOT, local_argv, running, service_command, subprocess_env

CHROMIUM = "/usr/bin/chromium"
# What the TLS-terminating proxy in front of gunicorn adds (DJANGO_SECURE_PROXY_SSL_HEADER).
BEHIND_TLS = {"X-Forwarded-Proto": "https"}

_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def env_example() -> dict[str, str]:
    """The variables `.env.example` sets (commented-out examples excluded), as written."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


def strong_secret_key() -> str:
    return secrets.token_urlsafe(50)  # what .env.example tells the operator to generate


# What a deployment's process has besides its settings. Nothing else of the test process
# leaks in (e.g. DJANGO_ALLOW_ASYNC_UNSAFE, which the browser tests set).
_PROCESS = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONUNBUFFERED", "DATABASE_URL", "CELERY_BROKER_URL")


def production_env(**overrides: str) -> dict[str, str]:
    """The test database and broker, with `.env.example` on top as a deployment that copied it
    would have, plus the secret key the operator generates."""
    env = {name: value for name, value in subprocess_env().items() if name in _PROCESS}
    example = env_example()
    example.pop("DATABASE_URL", None)  # the test database, never the example's
    env.update(example)
    env.update(DJANGO_SECRET_KEY=strong_secret_key())
    env.update(overrides)
    return env


@dataclass(frozen=True)
class Web:
    base: str
    log: Path
    metrics_token: str = METRICS_TOKEN  # /metrics is on, with this bearer token


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs) -> None:
        return None  # let the test see the redirect itself


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, headers: dict[str, str] | None = None, *, method: str = "GET", tls: bool = True) -> Reply:
    """One request, redirects not followed; `tls`: as the TLS proxy forwards it (else plain HTTP, as
    Prometheus and the probes reach the app server)."""
    request = urllib.request.Request(url, headers={**(BEHIND_TLS if tls else {}), **(headers or {})}, method=method)
    try:
        with _OPENER.open(request, timeout=10) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def linked_assets(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


@pytest.fixture(scope="session")
def collected_static(django_db_setup, tmp_path_factory) -> Path:
    """collectstatic with DEBUG off, as the image build does: the hashed, compressed files that
    every gunicorn of the session serves."""
    root = tmp_path_factory.mktemp("static")
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=production_env(DJANGO_STATIC_ROOT=str(root)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stderr
    return root


@contextmanager
def serve_web(
    *, static_root: Path, log_path: Path, workers: int | None = None, extra_args: tuple[str, ...] = (), **env: str
) -> Iterator[Web]:
    """The compose web command (gunicorn, DEBUG off, `.env.example`) on a free port, with `env`
    on top. `workers` replaces the compose value; `extra_args` are test-only gunicorn flags."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # A browser behind the TLS proxy posts with an https Origin; the test's browser talks plain
    # HTTP to gunicorn, so its origin is trusted the way a deployment trusts a proxy's host.
    environment = production_env(DJANGO_STATIC_ROOT=str(static_root), DJANGO_CSRF_TRUSTED_ORIGINS=base, **env)
    argv = local_argv(service_command("web"))
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    if workers is not None:
        argv[argv.index("--workers") + 1] = str(workers)
    argv += extra_args

    def up() -> bool:
        try:
            return fetch(f"{base}/admin/login/").status == 200
        except OSError:
            return False

    with running(argv, env=environment, log_path=log_path) as proc:
        wait_for(up, timeout=60, what="gunicorn (DEBUG off) to serve /admin/login/")
        assert proc.poll() is None
        yield Web(base=base, log=log_path)


@pytest.fixture(scope="session")
def web(collected_static, tmp_path_factory) -> Iterator[Web]:
    """The compose web command as it is, for the session: every production test module shares it."""
    log_path = tmp_path_factory.mktemp("web") / "web.log"
    with serve_web(static_root=collected_static, log_path=log_path, METRICS_BEARER_TOKEN=METRICS_TOKEN) as server:
        yield server
