"""The reversal's SQL, loaded from the .sql files beside this module and assembled once.
Only fixed fragments are spliced in; every value is a bound parameter."""

from functools import cache
from pathlib import Path

from vaults.models import ReversalScope
from vaults.services.release.results import MAX_ERRORS_LISTED, MAX_PLANNED_LISTED
from vaults.services.reversal.context import ReversalContext

_SQL = Path(__file__).with_name("sql")
FIRST_ID = "00000000-0000-0000-0000-000000000000"
LAST_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff"
_SCOPES = {ReversalScope.RUN: "scope_run", ReversalScope.DAY: "scope_as_of", ReversalScope.LOTS: "scope_lots"}

# A dry run lists the lots it would put back: what a confirmation page shows.
_PLANNED = """(SELECT json_agg(json_build_object('lot_id', r.lot_id, 'release_id', r.release_id,
                    'amount', r.reversed::text, 'release_day', r.new_day) ORDER BY r.release_id)
       FROM (SELECT * FROM reversed ORDER BY release_id LIMIT %(max_planned)s) r) AS planned"""


@cache
def load_sql(name: str) -> str:
    return (_SQL / f"{name}.sql").read_text()


@cache
def _statement(name: str, scope: str, *, wait: bool = False, one_lot: bool = False) -> str:
    sql = load_sql(name)
    sql = sql.replace("{planning}", load_sql("planning").strip()).replace("{result}", load_sql("result").strip())
    sql = sql.replace("{planned}", _PLANNED if name == "dry_run" else "NULL::json AS planned")
    sql = sql.replace("{scope}", load_sql(_SCOPES[scope]).strip())
    sql = sql.replace(
        "{lot_filter}", "AND (o.operation_metadata->>'lot_id')::bigint = ANY(%(lot_ids)s::bigint[])" if one_lot else ""
    )
    return sql.replace("{row_lock}", "FOR UPDATE OF l" if wait else "FOR UPDATE OF l SKIP LOCKED")


def claim_sql(ctx: ReversalContext, *, wait: bool, one_lot: bool) -> str:
    return _statement("claim", ctx.scope.kind, wait=wait, one_lot=one_lot)


def chunk_sql(ctx: ReversalContext) -> str:
    return _statement("chunk", ctx.scope.kind)


def dry_run_sql(ctx: ReversalContext) -> str:
    return _statement("dry_run", ctx.scope.kind)


def next_boundary_sql(ctx: ReversalContext) -> str:
    return _statement("next_boundary", ctx.scope.kind)


def range_lots_sql(ctx: ReversalContext) -> str:
    return _statement("range_lots", ctx.scope.kind)


def count_sql(ctx: ReversalContext) -> str:
    return _statement("count", ctx.scope.kind)


def base_params(ctx: ReversalContext) -> dict:
    scope = ctx.scope
    as_of = scope.release_run.as_of if scope.kind == ReversalScope.RUN else scope.as_of
    return {
        "vault_id": ctx.vault.pk,
        "vault_code": ctx.vault.code,
        "currency": ctx.vault.currency,
        "today": ctx.today,
        "trace_id": ctx.trace_id,
        "reason": ctx.reason,
        "actor": ctx.actor,
        "release_day": ctx.release_day,
        "vesting_days": ctx.vesting_days,
        "scope_as_of": as_of.isoformat() if as_of else None,
        "scope_trace_id": scope.release_run.trace_id if scope.release_run else None,
        "scope_release_ids": list(scope.release_ids or ()),
        "max_errors": MAX_ERRORS_LISTED,
        "max_planned": MAX_PLANNED_LISTED,
    }
