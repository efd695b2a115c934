"""The embedded PostgreSQL: the CLI the scripts use, and the Django backend of a checkout
without DATABASE_URL. Each test starts its own server in a temporary folder."""

from collections.abc import Iterator
from pathlib import Path

import environ
import psycopg
import pytest
from django.db.utils import ConnectionHandler

from common.database_url import database_url
from common.embedded_postgres import django_database, running_socket_dir, stop_server
from common.tests.support.embedded_postgres import cli


@pytest.fixture
def pgdata(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    yield data
    stop_server(data, mode="immediate")


def connect(url: str) -> psycopg.Connection:
    db = environ.Env.db_url_config(url)
    return psycopg.connect(host=db["OPTIONS"]["host"], user=db["USER"], dbname=db["NAME"], autocommit=True)


def test_url_starts_a_server_with_its_settings_and_database_and_stop_stops_it(pgdata):
    url = cli("url", "--data", str(pgdata), "--database", "demo", "--set", "max_connections=42", "--set", "fsync=off")

    assert url == f"postgres://postgres@/demo?host={running_socket_dir(pgdata)}"
    with connect(url) as conn:
        row = conn.execute("SELECT current_database(), current_setting('max_connections'), current_setting('fsync')")
        assert row.fetchone() == ("demo", "42", "off")
        assert conn.execute("SHOW server_version_num").fetchone()[0].startswith("18")
        conn.execute("CREATE TABLE kept (id int)")

    assert cli("url", "--data", str(pgdata), "--database", "demo") == url  # reused: the table is still there
    with connect(url) as conn:
        assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone() == (True,)

    cli("url", "--data", str(pgdata), "--database", "demo", "--recreate")
    with connect(url) as conn:
        assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone() == (False,)

    cli("stop", "--data", str(pgdata))
    assert running_socket_dir(pgdata) is None
    with pytest.raises(psycopg.OperationalError):
        connect(url)


def test_django_backend_starts_the_server_on_first_connection_and_creates_the_database(pgdata, django_db_blocker):
    connection = ConnectionHandler({"default": django_database(pgdata, name="lazy")})["default"]
    assert running_socket_dir(pgdata) is None  # configured, not started

    with django_db_blocker.unblock():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_database(), current_user")
                assert cursor.fetchone() == ("lazy", "postgres")
        finally:
            connection.close()

    assert connection.settings_dict["HOST"] == str(running_socket_dir(pgdata))
    # Another process (a subprocess of the tests, a script) reaches it through its URL.
    with connect(database_url(connection.settings_dict)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("lazy",)


def test_database_url_round_trips_through_django_environ():
    tcp = {"USER": "app", "PASSWORD": "p@ss:w/rd", "HOST": "db.internal", "PORT": 5433, "NAME": "core"}
    parsed = environ.Env.db_url_config(database_url(tcp))
    assert (parsed["USER"], parsed["PASSWORD"], parsed["HOST"], parsed["PORT"], parsed["NAME"]) == (
        "app",
        "p@ss:w/rd",
        "db.internal",
        5433,
        "core",
    )
    socket = {"USER": "postgres", "PASSWORD": "", "HOST": "/tmp/a b/data", "PORT": "", "NAME": "vancelian"}
    parsed = environ.Env.db_url_config(database_url(socket))
    assert (parsed["HOST"], parsed["OPTIONS"]["host"], parsed["NAME"]) == ("", "/tmp/a b/data", "vancelian")
