"""Benchmark of the lock audit (selector and command) over N lots, with a few injected
inconsistencies. Run through scripts/bench.sh audit [--lots 100000].

The seeding SQL is shared with vaults/tests/test_audit.py, which checks what the audit
finds on the same data.
"""

import argparse
import json
import time
from io import StringIO

BULK_SQL = """
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
SELECT '', false, 'bulk' || g, '', '', '', false, true, now() FROM generate_series(1, %(users)s) g;

-- The owners by position in one array (an InitPlan, read once): no join whose plan depends on
-- statistics an earlier test left behind. ANALYZE before each step that reads what the one
-- before wrote, for the same reason (and so the ledger's statement triggers plan afresh).
CREATE TEMP TABLE bulk_lots ON COMMIT DROP AS
SELECT g AS n,
       (SELECT array_agg(id ORDER BY id) FROM auth_user WHERE username LIKE 'bulk%%')[g %% %(users)s + 1] AS user_id,
       gen_random_uuid() AS deposit_op, gen_random_uuid() AS release_op,
       (g %% 2 = 0) AS released, DATE '2024-01-01' + (g %% 300) AS deposit_day
  FROM generate_series(1, %(lots)s) g;
ANALYZE bulk_lots;

INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at)
SELECT deposit_op, 'VAULT_DEPOSIT', user_id, 'AED', 100, '{}', 'bulk-deposit-' || n, deposit_day FROM bulk_lots;
INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at)
SELECT release_op, 'VAULT_VESTING_RELEASE', user_id, 'AED', 100, '{}', 'bulk-release-' || n, now()
  FROM bulk_lots WHERE released;
ANALYZE operations;

INSERT INTO vault_vesting_lots (vault_id, vault_code, user_id, currency, amount, released_amount, deposit_day,
    release_day, status, source_operation_id, last_release_operation_id, last_released_at, created_at)
SELECT %(vault)s, 'AVENIR', user_id, 'AED', 100, CASE WHEN released THEN 100 ELSE 0 END, deposit_day,
       deposit_day + 365, CASE WHEN released THEN 'RELEASED' ELSE 'VESTED' END, deposit_op,
       CASE WHEN released THEN release_op END, CASE WHEN released THEN now() END, deposit_day
  FROM bulk_lots;

INSERT INTO wallet_locks (user_id, currency, amount, reason, reference_type, reference_id, status, operation_id,
    created_at, released_at, release_operation_id)
SELECT user_id, 'AED', 100, 'VAULT_AVENIR_VESTING', 'VAULT', %(vault)s,
       CASE WHEN released THEN 'RELEASED' ELSE 'ACTIVE' END, deposit_op, deposit_day + TIME '09:00',
       CASE WHEN released THEN now() END, CASE WHEN released THEN release_op END
  FROM bulk_lots;

INSERT INTO ledger_accounts (owner_id, currency, kind, balance, created_at)
SELECT user_id, 'AED', 'WALLET_LOCKED', SUM(CASE WHEN released THEN 0 ELSE 100 END), now()
  FROM bulk_lots GROUP BY user_id;
"""

INCONSISTENCIES_SQL = [
    # Two released lots whose locks are ACTIVE again, and one lock that lost its operation_id.
    "UPDATE wallet_locks SET status = 'ACTIVE', released_at = NULL, release_operation_id = NULL "
    "WHERE id IN (SELECT id FROM wallet_locks WHERE status = 'RELEASED' ORDER BY id LIMIT 2)",
    "UPDATE wallet_locks SET operation_id = NULL WHERE id = (SELECT MIN(id) FROM wallet_locks WHERE status = 'ACTIVE')",
]


def seed_audit_data(cursor, *, vault_id, users: int, lots: int, inconsistencies: bool) -> None:
    cursor.execute(BULK_SQL, {"users": users, "lots": lots, "vault": vault_id})
    if inconsistencies:
        for sql in INCONSISTENCIES_SQL:
            cursor.execute(sql)
    cursor.execute("ANALYZE")


def main(lots: int, repeat: int) -> None:
    from benchmarks.release_benchmark import setup_django

    setup_django()
    from django.core.management import CommandError, call_command
    from django.db import connection

    from vaults.selectors import get_vault
    from vaults.selectors import lock_audit as audit

    vault = get_vault(currency="AED")
    t = time.perf_counter()
    with connection.cursor() as cursor:
        seed_audit_data(cursor, vault_id=vault.pk, users=max(1, lots // 50), lots=lots, inconsistencies=True)
    print(json.dumps({"phase": "seed", "lots": lots, "seconds": round(time.perf_counter() - t, 2)}))
    for _ in range(repeat):
        t = time.perf_counter()
        report = audit.audit_avenir_locks()
        selector = time.perf_counter() - t
        t = time.perf_counter()
        try:
            call_command("audit_avenir_locks", "--json", stdout=StringIO())
        except CommandError as exc:  # exit code 1: inconsistencies found (they were injected)
            if exc.returncode != 1:
                raise
        command = time.perf_counter() - t
        result = {"lots": lots, "findings": report.total, "selector_s": round(selector, 3)}
        print(json.dumps({**result, "command_s": round(command, 3)}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    main(args.lots, args.repeat)
