"""The production environment of `.env.example`, for subprocesses run against the test database."""

import re
import secrets

from vaults.tests.stack import ROOT, subprocess_env

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
