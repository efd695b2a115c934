"""Set-based writes for PostgreSQL: many rows per statement, values passed as one array per column."""

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.expressions import RawSQL


def _columns(model: type[models.Model], names: Sequence[str]) -> list[models.Field]:
    return [model._meta.get_field(name) for name in names]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _element_encoder(field: models.Field) -> Callable[[Any], str]:
    """How one value of `field` is written inside a PostgreSQL array literal."""
    target = field.target_field if field.is_relation else field
    if isinstance(target, models.JSONField):
        dumps = DjangoJSONEncoder(separators=(",", ":")).encode  # one encoder per column, not per value
        return lambda value: _quoted(dumps(value))
    if isinstance(target, models.DateTimeField):
        return lambda value: f'"{value.isoformat()}"'  # 'T', '+', ':' and digits, never a quote
    if isinstance(target, models.UUIDField):
        # 32 hex digits, which PostgreSQL reads as a uuid (and 3x faster than str(uuid)).
        return lambda value: value.hex if isinstance(value, uuid.UUID) else _quoted(str(value))  # PG validates
    if isinstance(target, models.IntegerField | models.DecimalField | models.DateField):
        return str  # digits, signs, dots, dashes: nothing to quote
    return lambda value: _quoted(str(value))


# Columns whose values repeat (a chunk's timestamp, status, currency, usual amounts):
# each distinct value is encoded once.
_REPEATING = (models.DateTimeField, models.DecimalField, models.CharField, models.TextField)


def _same_encoding_key(value: Any) -> tuple:
    """Values with equal keys encode identically: the type keeps 1, True and "1" apart,
    the UTC offset keeps apart the two wall-clock-equal instants of a DST fold."""
    if isinstance(value, datetime):
        return (datetime, value, value.utcoffset())
    return (type(value), value)


def pg_array(field: models.Field, values: Sequence[Any]) -> str:
    """A PostgreSQL array literal ('{1,2,NULL}'): psycopg would otherwise dump each
    element in Python, which costs more than the whole INSERT on the server."""
    encode = _element_encoder(field)
    target = field.target_field if field.is_relation else field
    if isinstance(target, _REPEATING):
        try:
            keys = [_same_encoding_key(value) for value in values]
            encoded = {key: "NULL" if key[1] is None else encode(key[1]) for key in set(keys)}
            return "{" + ",".join([encoded[key] for key in keys]) + "}"
        except TypeError:  # an unhashable value: encode each one
            pass
    return "{" + ",".join(["NULL" if value is None else encode(value) for value in values]) + "}"


def _array_params(columns: list[models.Field], rows: Sequence[Sequence[Any]]) -> tuple[str, list[str]]:
    """PostgreSQL: one array parameter per column, so a statement has a handful of
    parameters whatever the number of rows (the client never parses thousands of %s)."""
    conn = connections[DEFAULT_DB_ALIAS]
    arrays = [pg_array(col, [row[i] for row in rows]) for i, col in enumerate(columns)]
    unnest = "unnest(" + ", ".join(f"CAST(%s AS {col.db_type(conn)}[])" for col in columns) + ")"
    return unnest, arrays


def filter_in(qs: models.QuerySet, field_name: str, values: Iterable[Any]) -> models.QuerySet:
    """qs.filter(field__in=values), as `= ANY(one array)`: thousands of ids stay one parameter."""
    values = list(values)
    field = qs.model._meta.get_field(field_name)
    qn = connection.ops.quote_name
    column = f"{qn(qs.model._meta.db_table)}.{qn(field.column)}"
    cast = field.db_type(connections[DEFAULT_DB_ALIAS])
    return qs.filter(
        RawSQL(  # noqa: S611 - column and type come from model metadata; values are a parameter
            f"{column} = ANY(CAST(%s AS {cast}[]))", [pg_array(field, values)], output_field=models.BooleanField()
        )
    )


def insert_rows(model: type[models.Model], *, fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """INSERT many rows in one statement, without building model instances.

    One statement, never batches: the ledger's balance trigger checks each INSERT
    statement, so the legs of an operation must never be split across statements."""
    if not rows:
        return 0
    columns = _columns(model, fields)
    qn = connection.ops.quote_name
    target = f"{qn(model._meta.db_table)} ({', '.join(qn(col.column) for col in columns)})"
    source, params = _array_params(columns, rows)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {target} SELECT * FROM {source}", params)
    return len(rows)


def update_rows(model: type[models.Model], *, key: str, fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """UPDATE many rows with per-row values in one statement, joined on `key`.

    Each row is (key value, field values...). Django's bulk_update builds a CASE
    per column, whose cost grows with rows squared; this joins the values instead.
    """
    if not rows:
        return 0
    columns = _columns(model, (key, *fields))
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    names = [f"c{i}" for i in range(len(columns))]
    assignments = ", ".join(f"{qn(col.column)} = v.{name}" for col, name in zip(columns[1:], names[1:], strict=True))
    source, params = _array_params(columns, rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {source} AS v({', '.join(names)}) "
            f"WHERE {table}.{qn(columns[0].column)} = v.c0",
            params,
        )
        return cursor.rowcount
