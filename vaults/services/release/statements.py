"""The release's SQL, loaded from the .sql files beside this module and assembled
once. Only fixed fragments are spliced in; every value is a bound parameter."""

from functools import cache
from pathlib import Path

from vaults.services.release.context import RunContext
from vaults.services.release.results import MAX_ERRORS_LISTED, MAX_PLANNED_LISTED

_SQL = Path(__file__).with_name("sql")
# No upper key: the last range of a walk runs to the end of the selection.
MAX_LOT_ID = 2**63 - 1


@cache
def load_sql(name: str) -> str:
    return (_SQL / f"{name}.sql").read_text()


# A dry run lists the lots it would release, each with its direct lock: what a
# confirmation page shows. A real chunk does not need the list.
_PLANNED = """(SELECT json_agg(json_build_object('lot_id', r.lot_id, 'lock_id', r.lock_id)
            ORDER BY r.release_day, r.lot_id)
       FROM (SELECT * FROM released ORDER BY release_day, lot_id LIMIT %(max_planned)s) r) AS planned"""


@cache
def _statement(name: str, *, selection: bool, wait: bool = False) -> str:
    sql = load_sql(name)
    sql = sql.replace("{planning}", load_sql("planning").strip()).replace("{result}", load_sql("result").strip())
    sql = sql.replace("{planned}", _PLANNED if name == "dry_run" else "NULL::json AS planned")
    sql = sql.replace("{lot_filter}", "AND l.id = ANY(%(lot_ids)s::bigint[])" if selection else "")
    return sql.replace("{row_lock}", "FOR UPDATE" if wait else "FOR UPDATE SKIP LOCKED")


def claim_sql(ctx: RunContext, *, wait: bool, selection: bool = False) -> str:
    """`selection`: restricted to lot_ids, whether the run has a selection or retries one lot."""
    return _statement("claim", selection=selection or ctx.lot_ids is not None, wait=wait)


def chunk_sql() -> str:
    return _statement("chunk", selection=False)


def dry_run_sql(ctx: RunContext) -> str:
    return _statement("dry_run", selection=ctx.lot_ids is not None)


def next_boundary_sql(ctx: RunContext) -> str:
    return _statement("next_boundary", selection=ctx.lot_ids is not None)


def base_params(ctx: RunContext) -> dict:
    return {
        "vault_id": ctx.vault.pk,
        "vault_code": ctx.vault.code,
        "currency": ctx.vault.currency,
        "as_of": ctx.as_of,
        "trace_id": ctx.trace_id,
        "lot_ids": list(ctx.lot_ids) if ctx.lot_ids is not None else None,
        "max_errors": MAX_ERRORS_LISTED,
        "max_planned": MAX_PLANNED_LISTED,
    }
