"""The oldest supported PostgreSQL (common.db.postgresql): a server older than 15 is refused at
the first connection, with one line and exit 2, the way an operator meets it: manage.py in a
subprocess. The server's reported version is faked in that process (psycopg's
ConnectionInfo.server_version, which Django reads); everything else is real: the test
database's server, directly, through PgBouncer, or an embedded server of its own."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from common.database_url import database_url
from common.db.postgresql.base import OLDEST_SUPPORTED, DatabaseWrapper
from common.embedded_postgres import CHECKOUT, stop_server
from vaults.models import ReleaseRun

# manage.py, with psycopg reporting `version` (as server_version_num) for every server.
FAKE_VERSION = (
    "import psycopg, runpy, sys; "
    "version = int(sys.argv.pop(1)); "
    "psycopg.ConnectionInfo.server_version = property(lambda info: version); "
    "sys.argv[0] = 'manage.py'; "
    "runpy.run_path('manage.py', run_name='__main__')"
)


def manage(*args: str, env: dict[str, str], version: int | None = None) -> subprocess.CompletedProcess:
    fake = ["-c", FAKE_VERSION, str(version)] if version is not None else ["manage.py"]
    environment = {"DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": "test-only-secret", **env}
    return subprocess.run(
        [sys.executable, *fake, *args], cwd=CHECKOUT, env=environment, capture_output=True, text=True, timeout=120
    )


def direct_env(database: dict) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url(database)}
    env.pop("DATABASE_POOLER", None)  # straight to the server, also in the pass through PgBouncer
    return env


def assert_refused(done: subprocess.CompletedProcess, found: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
    assert done.stderr.startswith(f"error: PostgreSQL {found} (database "), done.stderr
    assert done.stderr.rstrip().endswith("is not supported: this application needs PostgreSQL 15 or later")


@pytest.mark.django_db(transaction=True)
def test_a_server_older_than_15_is_refused_before_anything_runs(database_server, avenir):
    assert OLDEST_SUPPORTED == (15,)
    env = direct_env(database_server)

    release = manage("release_avenir_vesting", env=env, version=140013)
    assert_refused(release, "14.13")
    assert not ReleaseRun.objects.exists()  # refused at its first connection: no run row
    assert_refused(manage("migrate", "--check", env=env, version=149999), "14.9999")


@pytest.mark.django_db(transaction=True)
def test_15_and_the_real_server_are_accepted(database_server, avenir):
    env = direct_env(database_server)

    for version in (150000, None):  # the oldest supported; the server as it is
        done = manage("verify_ledger", "--currency", "AED", env=env, version=version)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.django_db
def test_the_check_applies_through_pgbouncer(pgbouncer_env):
    done = manage("verify_ledger", env=pgbouncer_env, version=140000)

    assert_refused(done, "14.0")


@pytest.fixture
def embedded_pgdata(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    yield data
    stop_server(data, mode="immediate")


def test_the_check_applies_to_the_embedded_server(embedded_pgdata):
    """Without DATABASE_URL: the embedded backend starts its server (its own, here), then refuses it."""
    env = {**os.environ, "EMBEDDED_PGDATA": str(embedded_pgdata)}
    env.pop("DATABASE_URL", None)
    env.pop("DATABASE_POOLER", None)

    done = manage("verify_ledger", env=env, version=130000)

    assert_refused(done, "13.0")


def test_a_database_url_that_is_not_postgresql_is_refused_in_one_line():
    done = manage("check", env={**os.environ, "DATABASE_URL": "sqlite:////tmp/vancelian.sqlite3"})

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: DATABASE_URL must be a PostgreSQL URL"), done.stderr


@pytest.mark.django_db
def test_the_project_backend_is_the_one_in_use():
    wrapper = connections["default"]
    assert isinstance(wrapper, DatabaseWrapper)  # DATABASE_URL's backend, or the embedded one (a subclass)
    assert wrapper.features.minimum_database_version == OLDEST_SUPPORTED
