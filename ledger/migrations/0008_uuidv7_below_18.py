"""uuidv7() on PostgreSQL 15 to 17: the release writes operation ids with `uuidv7()`, built
into PostgreSQL 18 (pg_catalog). Older servers get an SQL function of the same name and
layout in the schema of the tables, so the release SQL calls one name on every version.

pg_catalog is searched first (unless search_path names it after another schema), so on 18
the built-in wins, also after a major upgrade of a database that still holds this function.
The server's version is read when the migration runs (server_version_num).
"""

from django.db import migrations

# PostgreSQL 18 has pg_catalog.uuidv7().
BUILT_IN_SINCE = 180000

# RFC 9562 version 7, laid out as PostgreSQL 18 lays it out: 48 bits of Unix milliseconds,
# version 7, then rand_a holds the sub-millisecond fraction in 12 bits (the clock's
# microseconds, scaled by 4096/1000), so ids made in different microseconds sort by creation
# time; then gen_random_uuid()'s last 8 bytes: the variant bits (10) and 62 random bits.
# One clock_timestamp() read per id (the subquery), so milliseconds and fraction agree.
# 28672 is 0x7000, the version bits (hexadecimal integer literals need PostgreSQL 16).
CREATE_UUIDV7 = """
CREATE FUNCTION uuidv7() RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
BEGIN ATOMIC
    SELECT encode(
               int8send(((t.us / 1000) << 16) | 28672 | (mod(t.us, 1000) * 4096 / 1000))
               || substring(uuid_send(gen_random_uuid()) FROM 9),
               'hex')::uuid
      FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us) AS t;
END
"""
COMMENT_UUIDV7 = (
    "COMMENT ON FUNCTION uuidv7() IS "
    "'UUID version 7 (RFC 9562) for PostgreSQL before 18, laid out like the built-in uuidv7() of 18'"
)


def _fetch_one(schema_editor, query: str):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def create_below_18(apps, schema_editor) -> None:
    if _fetch_one(schema_editor, "SELECT current_setting('server_version_num')::int") < BUILT_IN_SINCE:
        # params=None: the text goes to the server as written.
        schema_editor.execute(CREATE_UUIDV7, None)
        schema_editor.execute(COMMENT_UUIDV7, None)


def drop(apps, schema_editor) -> None:
    """Qualified with the schema it was created in (unqualified, `uuidv7()` names pg_catalog's
    on 18); a no-op where it was never created."""
    schema = schema_editor.quote_name(_fetch_one(schema_editor, "SELECT current_schema()"))
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {schema}.uuidv7()", None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0007_statement_reference_checks")]

    operations = [migrations.RunPython(create_below_18, drop, elidable=False)]
