"""Assertions shared by the vaults tests."""

import hashlib

import psycopg
from django.db import connection

from vaults.selectors import check_invariants


def assert_invariants() -> None:
    """Invariants 1-4 of DESIGN.md hold (5, dry runs write nothing, is asserted where dry runs run)."""
    violations = check_invariants()
    assert violations == [], violations


def database_fingerprint() -> dict[str, tuple[int, str]]:
    """{table: (row count, md5 of all rows)} for every table of the public schema."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [row[0] for row in cursor.fetchall()]
        result = {}
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" t ORDER BY 1')
            rows = [row[0] for row in cursor.fetchall()]
            result[table] = (len(rows), hashlib.md5("\n".join(rows).encode()).hexdigest())
    return result


def other_session(*, autocommit: bool = False) -> psycopg.Connection:
    """A separate PostgreSQL session on the test database, as another process would hold."""
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    return psycopg.connect(**params, autocommit=autocommit)
