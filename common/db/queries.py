"""Raw SQL reads that return plain rows."""

from collections.abc import Iterable, Mapping

from django.db import connection


def fetch_rows(sql: str, params: Iterable | Mapping = ()) -> list[tuple]:
    """Positional (%s) or named (%(name)s, a mapping) parameters."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params if isinstance(params, Mapping) else list(params))
        return cursor.fetchall()
