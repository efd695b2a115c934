"""Fixtures shared by every app's tests. The suite runs on PostgreSQL: DATABASE_URL, else the
embedded server of the checkout (scripts/test.sh starts a throwaway one per run).

PgBouncer (common/tests/support/pgbouncer.py), as production often runs:
- `pgbouncer`: a PgBouncer in transaction pooling mode in front of the test database's
  server; `pgbouncer_env` is the environment of a subprocess (`manage.py ...`) that reaches
  the test database through it with DATABASE_POOLER=transaction.
- TEST_THROUGH_PGBOUNCER=1: the whole session connects through one (scripts/test.sh runs the
  `pooler`-marked tests again that way), and `pgbouncer` is that one. `database_server` is
  the test database straight to its server either way.

Every test starts with an empty cache (the API's throttle counts), and the `client` fixture's
login() goes through django-axes the way the admin's login form does.
"""

import os
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.http import HttpRequest
from django.test import Client
from psycopg import sql

from common import embedded_postgres
from common.tests.support import watchdog
from common.tests.support.pgbouncer import PgBouncer
from common.tests.support.server import connect as server_connection
from vancelian import database_engine
from vancelian.database_pooler import TRANSACTION, configure_for_pooler
from vaults.models import AVENIR_CODE, Vault

# The static files collected once per session for every gunicorn the tests start (any app's).
from vaults.tests.support.production import collected_static  # noqa: F401

THROUGH_PGBOUNCER = os.environ.get("TEST_THROUGH_PGBOUNCER") == "1"
# `pooler` tests left out of the pass through PgBouncer, each with why.
NOT_THROUGH_PGBOUNCER: dict[str, str] = {}
_SESSION_BOUNCER = pytest.StashKey[PgBouncer]()
_SERVER_ADDRESS = pytest.StashKey[dict]()
# The share of a test's timeout after which the watchdog prints the server's activity.
WATCHDOG_SHARE = 0.8


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not THROUGH_PGBOUNCER:
        return []
    return [
        "database: through PgBouncer in transaction pooling mode (TEST_THROUGH_PGBOUNCER=1)",
        *(f"  left out: {nodeid} ({why})" for nodeid, why in NOT_THROUGH_PGBOUNCER.items()),
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not THROUGH_PGBOUNCER:
        return
    left_out = [item for item in items if item.nodeid in NOT_THROUGH_PGBOUNCER]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item.nodeid not in NOT_THROUGH_PGBOUNCER]


def _timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getoption("timeout", None) or item.config.getini("timeout") or 0)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """A test near its timeout prints its database server's activity (common/tests/support/watchdog.py)."""
    seconds = _timeout_of(item) * WATCHDOG_SHARE
    if seconds <= 0:
        return (yield)
    config = item.config

    def server() -> dict[str, Any]:
        database = settings.DATABASES["default"]
        return {**database, **(config.stash.get(_SERVER_ADDRESS, None) or _address(database))}

    timer = watchdog.start(item.nodeid, seconds, server)
    try:
        return (yield)
    finally:
        timer.cancel()


class AxesAwareClient(Client):
    """Client.login() calls authenticate() without a request, which django-axes' backend refuses:
    give it one, as the admin's login form does."""

    def login(self, **credentials) -> bool:
        request = HttpRequest()
        request.META["REMOTE_ADDR"] = "127.0.0.1"
        credentials.setdefault("request", request)
        return super().login(**credentials)


@pytest.fixture
def client() -> Client:
    return AxesAwareClient()


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """No throttle count leaks from one test into the next (with Redis, the cache has its own
    database: this never touches the broker's queues)."""
    cache.clear()


@pytest.fixture
def avenir(db) -> Vault:
    """The AVENIR AED vault. Created by a data migration, but transactional tests
    truncate every table, so it is (re)created here."""
    vault, _ = Vault.objects.get_or_create(
        code=AVENIR_CODE,
        currency="AED",
        defaults={"product_label": "COFFRE AVENIR", "vesting_days": settings.AVENIR_VESTING_DAYS},
    )
    return vault


def _address(database: dict[str, Any]) -> dict[str, Any]:
    """HOST and PORT of a DATABASES entry's server; the embedded backend only knows its socket
    once the server runs."""
    if database["ENGINE"] == embedded_postgres.ENGINE:
        return {"HOST": str(embedded_postgres.ensure_server(Path(database["EMBEDDED_PGDATA"]))), "PORT": ""}
    return {"HOST": database["HOST"], "PORT": database["PORT"]}


def _drop_database_directly(server: dict[str, Any], name: str) -> None:
    """On the server itself, not through PgBouncer: FORCE closes what PgBouncer left behind."""
    with server_connection(server, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def django_db_keepdb(request: pytest.FixtureRequest) -> bool:
    """Through PgBouncer, Django's own DROP of the test database would fail while PgBouncer
    holds server connections to it: Django keeps it, and the fixture below drops it."""
    return bool(request.config.getvalue("reuse_db")) or THROUGH_PGBOUNCER


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, request: pytest.FixtureRequest
) -> Iterator[None]:
    """pytest-django runs this before it creates the test database: with TEST_THROUGH_PGBOUNCER=1,
    point the default database at a PgBouncer (transaction pooling) in front of its server."""
    if not THROUGH_PGBOUNCER:
        yield
        return
    database = settings.DATABASES["default"]  # the very dict the connection reads
    address = _address(database)
    server = {**database, **address}
    test_database = database.get("TEST", {}).get("NAME") or f"test_{database['NAME']}"
    fresh = not request.config.getvalue("reuse_db")
    if fresh:  # what pytest-django does without --reuse-db: recreate it
        _drop_database_directly(server, test_database)
    request.config.stash[_SERVER_ADDRESS] = address
    bouncer = PgBouncer(server).start()
    request.config.stash[_SESSION_BOUNCER] = bouncer
    connections.close_all()
    embedded = database["ENGINE"] == embedded_postgres.ENGINE
    # The embedded backend would put its own socket back in HOST.
    database.update(bouncer.settings_dict(database), ENGINE=database_engine.ENGINE)
    configure_for_pooler(database, TRANSACTION)
    if embedded:
        with suppress(AttributeError):  # not created yet
            del connections["default"]  # rebuilt with the plain backend on next use
    previous_pooler = os.environ.get("DATABASE_POOLER")
    os.environ["DATABASE_POOLER"] = TRANSACTION  # subprocesses of the tests inherit it
    try:
        yield
    finally:
        connections.close_all()
        bouncer.stop()
        if previous_pooler is None:
            os.environ.pop("DATABASE_POOLER", None)
        else:
            os.environ["DATABASE_POOLER"] = previous_pooler
        if fresh:
            _drop_database_directly(server, test_database)


@pytest.fixture(scope="session")
def database_server(request: pytest.FixtureRequest, django_db_setup: None) -> dict[str, Any]:
    """The test database's DATABASES entry, straight to its PostgreSQL server (also when the
    session runs through PgBouncer)."""
    database = settings.DATABASES["default"]
    address = request.config.stash.get(_SERVER_ADDRESS, None) or _address(database)
    return {**database, **address}


@pytest.fixture(scope="session")
def pgbouncer(request: pytest.FixtureRequest, database_server: dict[str, Any]) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction pooling mode in front of the test database's server. Started
    after the test database, so it stops (closing its server connections) before Django drops it."""
    shared = request.config.stash.get(_SESSION_BOUNCER, None)
    if shared is not None:
        yield shared
        return
    with PgBouncer(database_server) as bouncer:
        yield bouncer


@pytest.fixture
def pgbouncer_env(pgbouncer: PgBouncer) -> dict[str, str]:
    """os.environ for a subprocess on the test database through `pgbouncer`, with
    DATABASE_POOLER=transaction."""
    return pgbouncer.subprocess_env(connection.settings_dict["NAME"])
