"""DATABASE_POOLER, read by settings.py: checked the way an operator meets it, through manage.py
in a subprocess (no database is reached: the settings alone are under test)."""

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from common.embedded_postgres import CHECKOUT
from vancelian.database_pooler import configure_for_pooler, database_pooler

SHOW_DATABASE = (
    "import json; from django.conf import settings as s; d = s.DATABASES['default']; "
    "print(json.dumps({'options': d.get('OPTIONS', {}), "
    "'no_server_side_cursors': d.get('DISABLE_SERVER_SIDE_CURSORS', False)}))"
)


def manage(*args: str, pooler: str | None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://app@db.example:6432/core",  # never connected to
        "DJANGO_DEBUG": "true",
        "DJANGO_SECRET_KEY": "test-only-secret",
    }
    env.pop("DATABASE_POOLER", None)  # the pooled test pass sets it
    if pooler is not None:
        env["DATABASE_POOLER"] = pooler
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=120
    )


def database_settings(pooler: str | None) -> dict:
    done = manage("shell", "-v", "0", "-c", SHOW_DATABASE, pooler=pooler)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("pooler", [None, "session"])
def test_direct_or_session_pooling_changes_nothing(pooler):
    assert database_settings(pooler) == {"options": {"connect_timeout": 10}, "no_server_side_cursors": False}


def test_transaction_pooling_turns_off_prepared_statements_and_server_side_cursors():
    assert database_settings("transaction") == {
        "options": {"connect_timeout": 10, "prepare_threshold": None},
        "no_server_side_cursors": True,
    }


def test_an_unknown_pooler_refuses_to_start_in_one_line_with_exit_2():
    done = manage("check", pooler="statement")

    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "error: DATABASE_POOLER must be one of none, session, transaction (got 'statement')"
    ]
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("value", "pooler"), [("", "none"), ("none", "none"), ("session", "session"), (" Transaction ", "transaction")]
)
def test_values_are_read_without_case_or_spaces(value, pooler):
    assert database_pooler(value) == pooler


@pytest.mark.parametrize("value", ["statement", "pgbouncer", "transactions", "1", "true"])
def test_anything_else_is_refused(value):
    with pytest.raises(ImproperlyConfigured) as refused:
        database_pooler(value)
    assert str(refused.value) == f"DATABASE_POOLER must be one of none, session, transaction (got {value!r})"


def test_transaction_pooling_keeps_the_other_options():
    database = {"NAME": "core", "OPTIONS": {"sslmode": "require", "prepare_threshold": 5}}

    configure_for_pooler(database, "transaction")

    assert database["OPTIONS"] == {"sslmode": "require", "prepare_threshold": None}
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
