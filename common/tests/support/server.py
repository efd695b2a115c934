"""A psycopg connection straight to the PostgreSQL server of a DATABASES-style entry (HOST,
PORT, USER, PASSWORD, NAME), past any PgBouncer: for what tests and their fixtures do on the
server itself (drop a database, read pg_stat_activity, hold a lock from another session)."""

from collections.abc import Mapping
from typing import Any

import psycopg

CONNECT_TIMEOUT = 10  # seconds: a test waits for a server, never forever


def connect(server: Mapping[str, Any], *, dbname: str | None = None, **kwargs: Any) -> psycopg.Connection:
    """To `dbname` (default: the entry's NAME) on the entry's server; kwargs go to psycopg."""
    kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
    return psycopg.connect(
        host=server.get("HOST") or None,
        port=server.get("PORT") or None,
        user=server.get("USER") or None,
        password=server.get("PASSWORD") or None,
        dbname=dbname or server["NAME"],
        **kwargs,
    )
