"""A reversal chunk reads only the rows of its chunk, by key, whatever the statistics say.

A reversal runs after a release: the statistics PostgreSQL took then say that no lock is
ACTIVE, and the reversal makes one ACTIVE lock per lot as it goes. A lookup that the planner
turns into a whole read of the (looking empty) partial index of ACTIVE locks gets slower
with every chunk: measured at 200,000 lots with one connection, 2,808 lots/s against 9,378
by key lookups. This test plans
one chunk (claim.sql, then chunk.sql) on a schema of the same tables, indexes and
constraints holding that state, and asserts from the plans' JSON that every read of the
ledger and the lots is an index lookup of the chunk's keys.

The tables live in a schema of their own, first on the search_path, inside the test's
transaction: the rollback at the end removes them.
"""

import pytest
from django.db import connection

from vaults.models import ReversalScope
from vaults.services.reversal.context import ReversalContext, Scope
from vaults.services.reversal.statements import FIRST_ID, LAST_ID, base_params, chunk_sql, claim_sql
from vaults.tests.support.plans import (
    INDEX_READS,
    TABLES,
    create_shadow_tables,
    explain,
    index_and_analyze,
    scans,
    unkeyed_index_reads,
)

CUSTOMERS = 200_000
CHUNK = 1000


def build_released_base(cursor, vault, today) -> None:
    """CUSTOMERS customers whose lot was released today (a release operation, the lock
    closed), analyzed; then the locks of all but the first CHUNK made ACTIVE again, as a
    reversal does, without new statistics."""
    create_shadow_tables(cursor, "reversal_plan_guard")
    params = {"n": CUSTOMERS, "chunk": CHUNK, "vault": vault.pk, "today": today}
    cursor.execute(
        "INSERT INTO ledger_accounts (id, owner_id, currency, kind, balance, created_at) "
        "SELECT 2 * u + k, u, 'AED', (ARRAY['WALLET_AVAILABLE', 'WALLET_LOCKED'])[k + 1], 100 * (1 - k), now() "
        "FROM generate_series(1, %(n)s) u, generate_series(0, 1) k",
        params,
    )
    cursor.execute(
        "INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at) "
        "SELECT md5(kind || u)::uuid, kind, u, 'AED', 100, "
        "CASE WHEN kind = 'VAULT_DEPOSIT' THEN '{}'::jsonb ELSE jsonb_build_object("
        "'lot_id', u, 'as_of', %(today)s::date::text, 'trace_id', 'plan', 'release_amount', '100.00') END, "
        "CASE WHEN kind = 'VAULT_DEPOSIT' THEN 'vault-deposit:' ELSE 'avenir-vesting-release:' END || u, now() "
        "FROM generate_series(1, %(n)s) u, unnest(ARRAY['VAULT_DEPOSIT', 'VAULT_VESTING_RELEASE']) kind",
        params,
    )
    cursor.execute(
        "INSERT INTO wallet_locks (user_id, currency, amount, reason, reference_type, reference_id, status, "
        "operation_id, release_operation_id, created_at, released_at) "
        "SELECT u, 'AED', 100, 'VAULT_AVENIR_VESTING', 'VAULT', %(vault)s, 'RELEASED', "
        "md5('VAULT_DEPOSIT' || u)::uuid, md5('VAULT_VESTING_RELEASE' || u)::uuid, now(), now() "
        "FROM generate_series(1, %(n)s) u",
        params,
    )
    cursor.execute(
        "INSERT INTO vault_vesting_lots (id, vault_id, vault_code, user_id, currency, amount, released_amount, "
        "deposit_day, release_day, status, source_operation_id, last_release_operation_id, last_released_at, "
        "created_at) "
        "SELECT u, %(vault)s, 'AVENIR', u, 'AED', 100, 100, %(today)s::date - 365, %(today)s, 'RELEASED', "
        "md5('VAULT_DEPOSIT' || u)::uuid, md5('VAULT_VESTING_RELEASE' || u)::uuid, now(), now() "
        "FROM generate_series(1, %(n)s) u",
        params,
    )
    index_and_analyze(cursor, "reversal_plan_guard")
    cursor.execute(
        "UPDATE wallet_locks SET status = 'ACTIVE', released_at = NULL, release_operation_id = NULL "
        "WHERE user_id > %(chunk)s",
        params,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("scope", [ReversalScope.DAY, ReversalScope.LOTS])
def test_a_reversal_chunk_reads_its_own_rows_by_key(avenir, today, scope):
    with connection.cursor() as cursor:
        build_released_base(cursor, avenir, today)
        cursor.execute("SELECT array_agg(id ORDER BY id) FROM operations WHERE type = 'VAULT_VESTING_RELEASE'")
        (release_ids,) = cursor.fetchone()
        ctx = ReversalContext(
            vault=avenir,
            scope=(
                Scope(kind=scope, as_of=today)
                if scope == ReversalScope.DAY
                else Scope(kind=scope, lot_ids=tuple(range(1, CHUNK + 1)), release_ids=tuple(release_ids[:CHUNK]))
            ),
            today=today,
            trace_id="plan",
            reason="plan",
            actor="",
            release_day=None,
            vesting_days=400,
            dry_run=False,
            chunk_size=CHUNK,
            workers=1,
        )
        params = {
            **base_params(ctx),
            "after_id": FIRST_ID,
            "upto_id": LAST_ID,
            "exclude_lot_ids": [],
            "carry_lot_ids": [],
            "limit": CHUNK,
            "lot_ids": None,
        }
        nodes = explain(cursor, claim_sql(ctx, wait=False, one_lot=False), params)
        nodes += explain(cursor, chunk_sql(ctx), {**params, "claimed_release_ids": release_ids[:CHUNK]})

    assert not unkeyed_index_reads(nodes, TABLES), "whole indexes read"
    assert not {relation for node_type, relation in scans(nodes) if node_type == "Seq Scan"} & set(TABLES)
    by_index = {relation for node_type, relation in scans(nodes) if node_type in INDEX_READS}
    assert {"ledger_accounts", "operations", "wallet_locks", "vault_vesting_lots"} <= by_index
