"""Assertions and data shared by the vaults tests."""

import hashlib
from datetime import date, timedelta

import psycopg
from django.conf import settings
from django.db import connection

from vaults.services.seed import seed_avenir
from vaults.verification import verify_ledger


def assert_invariants() -> None:
    """Every check of verify_ledger passes: invariants 1-3 of DESIGN.md (4 is a UNIQUE key and CHECK
    constraints; 5, dry runs write nothing, is asserted where dry runs run)."""
    result = verify_ledger()
    assert result.ok, result.to_json()


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


def seed_matured(today: date, users: int, lots_per_user: int, spread_days: int) -> None:
    """users x lots_per_user lots of 10,000.00 maturing over the spread_days up to today (bulk seed)."""
    first_deposit = today - timedelta(days=settings.AVENIR_VESTING_DAYS + spread_days - 1)
    seed_avenir(
        users=users, lots_per_user=lots_per_user, deposit_day=first_deposit, spread_days=spread_days, method="bulk"
    )
