"""The release reads only the rows of its chunk, however large the customer base.

PostgreSQL's planner picks plans from table sizes: a join that is fine at 25,000 customers
can turn into sequential scans at millions. This test plans one chunk (claim.sql, then
chunk.sql) on a schema of the same tables, indexes and constraints holding 2,000,000
customers (wallets, a deposit operation, a lock and an unmatured lot each), and asserts
from the plans' JSON that no table of the ledger or the lots is scanned sequentially.

The big tables live in a schema of their own, first on the search_path, inside the
test's transaction: the rollback at the end removes them.
"""

import os
from collections.abc import Iterator

import pytest
from django.db import connection

from vaults.services.release.context import RunContext
from vaults.services.release.statements import base_params, chunk_sql, claim_sql

# A small customer base and a large one: the plan must not change with the size.
CUSTOMER_BASES = (25_000, int(os.environ.get("PLAN_GUARD_CUSTOMERS", "2000000")))
CHUNK = 1000
# A bitmap heap scan reads the rows its bitmap index scan found.
INDEX_READS = frozenset({"Index Scan", "Index Only Scan", "Bitmap Heap Scan"})
TABLES = ("ledger_accounts", "operations", "wallet_locks", "vault_vesting_lots", "ledger_entries")


def build_customer_base(cursor, vault, today, customers: int) -> None:
    """`customers` customers in a schema of their own, first on the search_path until the
    test's transaction ends."""
    schema = f"plan_guard_{customers}"
    cursor.execute(f"CREATE SCHEMA {schema}")
    for table in TABLES:
        cursor.execute(f"CREATE UNLOGGED TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL EXCLUDING INDEXES)")
    cursor.execute(f"SET LOCAL search_path = {schema}, public")
    params = {"n": customers, "chunk": CHUNK, "vault": vault.pk, "today": today}
    cursor.execute(
        "INSERT INTO ledger_accounts (id, owner_id, currency, kind, balance, created_at) "
        "SELECT 2 * u + k, u, 'AED', (ARRAY['WALLET_AVAILABLE', 'WALLET_LOCKED'])[k + 1], 100, now() "
        "FROM generate_series(1, %(n)s) u, generate_series(0, 1) k",
        params,
    )
    cursor.execute(
        "INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at) "
        "SELECT md5('deposit' || u)::uuid, 'VAULT_DEPOSIT', u, 'AED', 100, '{}', 'vault-deposit:' || u, now() "
        "FROM generate_series(1, %(n)s) u",
        params,
    )
    cursor.execute(
        "INSERT INTO wallet_locks (user_id, currency, amount, reason, reference_type, reference_id, status, "
        "operation_id, created_at) "
        "SELECT u, 'AED', 100, 'VAULT_AVENIR_VESTING', 'VAULT', %(vault)s, 'ACTIVE', md5('deposit' || u)::uuid, now() "
        "FROM generate_series(1, %(n)s) u",
        params,
    )
    # The first CHUNK customers' lots mature today; everyone else's later.
    cursor.execute(
        "INSERT INTO vault_vesting_lots (vault_id, vault_code, user_id, currency, amount, released_amount, "
        "deposit_day, release_day, status, source_operation_id, created_at) "
        "SELECT %(vault)s, 'AVENIR', u, 'AED', 100, 0, %(today)s::date - 365, "
        "%(today)s::date + CASE WHEN u <= %(chunk)s THEN 0 ELSE 1 + u %% 365 END, "
        "'VESTED', md5('deposit' || u)::uuid, now() FROM generate_series(1, %(n)s) u",
        params,
    )
    # The same indexes as the real tables, built once the rows are in (much faster than row by row).
    cursor.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)", [list(TABLES)]
    )
    for (definition,) in cursor.fetchall():
        cursor.execute(definition.replace(" ON public.", f" ON {schema}."))
    for table in TABLES:
        cursor.execute(f"ANALYZE {schema}.{table}")


def plan_nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)


def explain(cursor, sql: str, params: dict) -> list[dict]:
    cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
    (document,) = cursor.fetchone()
    return list(plan_nodes(document[0]["Plan"]))


def scans(nodes: list[dict]) -> set[tuple[str, str]]:
    return {(node["Node Type"], node["Relation Name"]) for node in nodes if "Relation Name" in node}


def plan_chunk(vault, today, customers: int) -> list[dict]:
    """The plan nodes of claim.sql and chunk.sql for the CHUNK lots maturing today."""
    ctx = RunContext(
        vault=vault, as_of=today, trace_id="plan", dry_run=False, lot_ids=None, chunk_size=CHUNK, workers=1
    )
    with connection.cursor() as cursor:
        build_customer_base(cursor, vault, today, customers)
        params = {
            **base_params(ctx),
            "after_day": today.replace(year=1),
            "after_id": 0,
            "upto_day": today,
            "upto_id": 2**63 - 1,
            "exclude_lot_ids": [],
            "carry_lot_ids": [],
            "limit": CHUNK,
        }
        claim = explain(cursor, claim_sql(ctx, wait=False), params)
        cursor.execute("SELECT array_agg(id) FROM vault_vesting_lots WHERE release_day = %s", [today])
        params["claimed_lot_ids"] = cursor.fetchone()[0]
        assert len(params["claimed_lot_ids"]) == CHUNK
        return claim + explain(cursor, chunk_sql(), params)


def access(nodes: list[dict]) -> set[tuple[str, str]]:
    """(table, "index" or the node type) for every table the plan reads."""
    return {(relation, "index" if node_type in INDEX_READS else node_type) for node_type, relation in scans(nodes)}


@pytest.mark.django_db
def test_a_chunk_reads_its_own_rows_by_index_whatever_the_customer_base(avenir, today):
    plans = {customers: plan_chunk(avenir, today, customers) for customers in CUSTOMER_BASES}

    for customers, nodes in plans.items():
        seq_scans = {relation for node_type, relation in scans(nodes) if node_type == "Seq Scan"}
        assert not seq_scans & set(TABLES), f"{customers:,} customers: {sorted(seq_scans)} scanned sequentially"
        by_index = {relation for node_type, relation in scans(nodes) if node_type in INDEX_READS}
        assert {"ledger_accounts", "operations", "wallet_locks", "vault_vesting_lots"} <= by_index
    small, large = (access(plans[customers]) for customers in CUSTOMER_BASES)
    assert small == large, "the tables a chunk reads, or how, change with the number of customers"
