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

import pytest
from django.db import connection

from vaults.services.release.context import RunContext
from vaults.services.release.statements import base_params, chunk_sql, claim_sql
from vaults.tests.support.plans import (
    INDEX_READS,
    TABLES,
    create_shadow_tables,
    explain,
    index_and_analyze,
    scans,
    unkeyed_index_reads,
)

# A small customer base and a large one: the plan must not change with the size.
CUSTOMER_BASES = (25_000, int(os.environ.get("PLAN_GUARD_CUSTOMERS", "2000000")))
CHUNK = 1000
STALE_STATISTICS_CUSTOMERS = 200_000


def build_customer_base(cursor, vault, today, customers: int, *, locks_when_analyzed: str = "ACTIVE") -> None:
    """`customers` customers in a schema of their own, first on the search_path until the
    test's transaction ends. Their locks are ACTIVE; the statistics are taken while their
    status is `locks_when_analyzed`."""
    schema = f"plan_guard_{customers}_{locks_when_analyzed.lower()}"
    create_shadow_tables(cursor, schema)
    params = {"n": customers, "chunk": CHUNK, "vault": vault.pk, "today": today, "status": locks_when_analyzed}
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
        "operation_id, created_at, released_at) "
        "SELECT u, 'AED', 100, 'VAULT_AVENIR_VESTING', 'VAULT', %(vault)s, %(status)s, md5('deposit' || u)::uuid, "
        "now(), CASE WHEN %(status)s = 'ACTIVE' THEN NULL ELSE now() END FROM generate_series(1, %(n)s) u",
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
    index_and_analyze(cursor, schema)
    cursor.execute("UPDATE wallet_locks SET status = 'ACTIVE', released_at = NULL WHERE status <> 'ACTIVE'")


def plan_chunk(vault, today, customers: int, *, locks_when_analyzed: str = "ACTIVE") -> list[dict]:
    """The plan nodes of claim.sql and chunk.sql for the CHUNK lots maturing today."""
    ctx = RunContext(
        vault=vault, as_of=today, trace_id="plan", dry_run=False, lot_ids=None, chunk_size=CHUNK, workers=1
    )
    with connection.cursor() as cursor:
        build_customer_base(cursor, vault, today, customers, locks_when_analyzed=locks_when_analyzed)
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
        assert not unkeyed_index_reads(nodes, TABLES), f"{customers:,} customers: whole indexes read"
    small, large = (access(plans[customers]) for customers in CUSTOMER_BASES)
    assert small == large, "the tables a chunk reads, or how, change with the number of customers"


@pytest.mark.django_db
def test_a_chunk_reads_by_key_when_the_statistics_say_no_lock_is_active(avenir, today):
    """Statistics taken when every lock was closed (a day after a big release, before
    autovacuum analyzes the new deposits', or a reversal's, locks): a partial index on
    ACTIVE locks then looks empty, cheaper to read whole than the key lookup. It is not:
    the plan must still look up the chunk's keys."""
    nodes = plan_chunk(avenir, today, STALE_STATISTICS_CUSTOMERS, locks_when_analyzed="RELEASED")

    assert not unkeyed_index_reads(nodes, TABLES), "whole indexes read"
    assert not {relation for node_type, relation in scans(nodes) if node_type == "Seq Scan"} & set(TABLES)
