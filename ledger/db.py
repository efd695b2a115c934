"""Small set-based SQL helpers that run on PostgreSQL and on the SQLite demo database."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, models, transaction


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def update_rows(
    model: type[models.Model],
    *,
    key: str,
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> int:
    """UPDATE many rows with per-row values in one statement (UPDATE ... FROM (VALUES ...)).

    Each row is (key value, field values...). Django's bulk_update builds a CASE
    per column, whose cost grows with rows squared; this joins a VALUES list instead.
    """
    if not rows:
        return 0
    opts = model._meta
    columns = [opts.get_field(name) for name in (key, *fields)]
    qn = connection.ops.quote_name
    table = qn(opts.db_table)
    if is_postgres():
        # VALUES gives untyped parameters a type by their first row; cast explicitly.
        placeholder = "(" + ", ".join(f"CAST(%s AS {col.db_type(connection)})" for col in columns) + ")"
    else:
        placeholder = "(" + ", ".join("%s" for _ in columns) + ")"
    assignments = ", ".join(f"{qn(col.column)} = v.column{i + 2}" for i, col in enumerate(columns[1:]))
    batch = max(1, 30000 // len(columns))  # keep under every backend's parameter limit
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params = [
                col.get_db_prep_value(value, connection)
                for row in chunk
                for col, value in zip(columns, row, strict=True)
            ]
            sql = (
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([placeholder] * len(chunk))}) AS v "
                f"WHERE {table}.{qn(columns[0].column)} = v.column1"
            )
            cursor.execute(sql, params)
            updated += cursor.rowcount
    return updated


@contextmanager
def read_only_transaction() -> Iterator[None]:
    """A transaction in which the database itself refuses every write; always rolled back.

    PostgreSQL: READ ONLY, and REPEATABLE READ (one consistent snapshot) when it is
    the outermost transaction. SQLite: PRAGMA query_only for the duration.
    """
    nested = connection.in_atomic_block
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                if not is_postgres():
                    cursor.execute("PRAGMA query_only = ON")
                elif nested:  # the isolation level can only be set before the first query
                    cursor.execute("SET TRANSACTION READ ONLY")
                else:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield
            finally:
                # Rolling back also undoes SET TRANSACTION inside a savepoint.
                transaction.set_rollback(True)
    finally:
        if not is_postgres():
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA query_only = OFF")
