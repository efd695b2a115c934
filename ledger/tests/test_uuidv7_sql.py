"""uuidv7() in PostgreSQL: the built-in on 18, the function of migration 0008 below 18
(scripts/test.sh runs this module on both). Ids must carry version 7 and the RFC variant,
and sort by creation time, which the operations' indexes and the API's keyset rely on."""

import importlib
import uuid

import pytest
from django.core.management import call_command
from django.db import connection

from ledger.tests.support.uuid7 import assert_uuid7_layout, microseconds_to_ticks, uuid7_ticks

pytestmark = pytest.mark.django_db

migration = importlib.import_module("ledger.migrations.0008_uuidv7_below_18")

IDS = 5000
# PostgreSQL 18 keeps the ids of one session strictly increasing: when they come faster than
# its clock's step, it moves each one ~1 µs ahead of the clock. Allowed: 1 ms.
BUILT_IN_LEAD_TICKS = 4096

# Each id between two clock readings (Unix microseconds), in one statement.
BETWEEN_CLOCK_READINGS = """
SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,
       {function}(),
       (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
  FROM generate_series(1, %s)
"""


def server_version_num() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        return cursor.fetchone()[0]


def fetch(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def ids_between_clock_readings(function: str) -> list[tuple[int, uuid.UUID, int]]:
    rows = fetch(BETWEEN_CLOCK_READINGS.format(function=function), [IDS])
    return [(before, uuid.UUID(str(value)), after) for before, value, after in rows]


def assert_sorted_by_creation_time(rows: list[tuple[int, uuid.UUID, int]]) -> None:
    """An id made after another id's second clock reading (a later microsecond) sorts after
    it: for each row, every row whose `after` is earlier than its `before` has a smaller id."""
    by_after = sorted(rows, key=lambda row: row[2])
    earlier, largest_earlier, compared = 0, None, 0
    for before, value, _ in sorted(rows, key=lambda row: row[0]):
        while earlier < len(by_after) and by_after[earlier][2] < before:
            candidate = by_after[earlier][1]
            largest_earlier = candidate if largest_earlier is None else max(largest_earlier, candidate)
            earlier += 1
        if largest_earlier is not None:
            assert largest_earlier < value, (largest_earlier, value)
            compared += 1
    assert compared > IDS // 2  # most ids were made in distinct microseconds: the check bites


def assert_within_clock(rows: list[tuple[int, uuid.UUID, int]], *, lead: int = 0) -> None:
    for before, value, after in rows:
        assert microseconds_to_ticks(before) <= uuid7_ticks(value) <= microseconds_to_ticks(after) + lead


def test_the_servers_uuidv7_has_the_layout_and_sorts_by_creation_time():
    """uuidv7() as the release SQL calls it: pg_catalog's on 18, the migration's below."""
    rows = ids_between_clock_readings("uuidv7")

    for _, value, _ in rows:
        assert_uuid7_layout(value)
    assert len({value for _, value, _ in rows}) == IDS
    assert_sorted_by_creation_time(rows)
    assert_within_clock(rows, lead=BUILT_IN_LEAD_TICKS if server_version_num() >= migration.BUILT_IN_SINCE else 0)


def test_the_migrations_function_has_the_layout_and_carries_its_clock_on_any_version():
    """The function below 18, checked on every server: created in a scratch schema (rolled
    back with the test), its ids carry the very microsecond of clock_timestamp()."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA uuidv7_scratch")
        cursor.execute("SET LOCAL search_path = uuidv7_scratch")
        cursor.execute(migration.CREATE_UUIDV7, None)
        cursor.execute("RESET search_path")
    rows = ids_between_clock_readings("uuidv7_scratch.uuidv7")

    for _, value, _ in rows:
        assert_uuid7_layout(value)
    assert len({value for _, value, _ in rows}) == IDS
    assert_sorted_by_creation_time(rows)
    assert_within_clock(rows)  # exactly: floor(microseconds x 4096 / 1000) of its own reading


def function_schemas() -> tuple[str | None, list[str]]:
    """(the schema `uuidv7()` resolves to, the schemas holding a uuidv7 besides pg_catalog)."""
    resolved = fetch(
        "SELECT p.pronamespace::regnamespace::text FROM pg_proc p WHERE p.oid = to_regprocedure('uuidv7()')"
    )
    others = fetch(
        "SELECT pronamespace::regnamespace::text FROM pg_proc"
        " WHERE proname = 'uuidv7' AND pronamespace <> 'pg_catalog'::regnamespace"
    )
    return (resolved[0][0] if resolved else None), [row[0] for row in others]


def test_the_migration_creates_the_function_below_18_only_and_reverses_cleanly():
    """Run in the test's transaction, rolled back with it."""
    (current_schema,) = fetch("SELECT current_schema()")[0]
    built_in = server_version_num() >= migration.BUILT_IN_SINCE
    migrated = ("pg_catalog", []) if built_in else (current_schema, [current_schema])
    assert function_schemas() == migrated

    call_command("migrate", "ledger", "0007", verbosity=0)
    assert function_schemas() == (("pg_catalog", []) if built_in else (None, []))

    call_command("migrate", "ledger", "0008", verbosity=0)
    assert function_schemas() == migrated
