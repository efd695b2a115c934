"""The bulk seed path writes exactly what the services write for the same input."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from vaults.services.release import utc_today
from vaults.services.seed import seed_avenir
from vaults.tests.helpers import assert_invariants

pytestmark = pytest.mark.django_db(transaction=True)


def normalized_dump() -> dict[str, list[tuple]]:
    """Every seeded row, with generated ids replaced by what they point to."""
    queries = {
        "users": "SELECT username, is_active, is_staff, is_superuser, password LIKE '!%%' FROM auth_user",
        "accounts": """SELECT COALESCE(u.username, 'system'), a.currency, a.kind, a.balance
                       FROM ledger_accounts a LEFT JOIN auth_user u ON u.id = a.owner_id""",
        "operations": """SELECT o.type, u.username, o.currency, o.amount, o.operation_metadata::text,
                                o.idempotency_key, o.created_at
                         FROM operations o JOIN auth_user u ON u.id = o.user_id""",
        "entries": """SELECT o.idempotency_key, COALESCE(u.username, 'system'), a.kind, e.currency, e.amount
                      FROM ledger_entries e JOIN operations o ON o.id = e.operation_id
                      JOIN ledger_accounts a ON a.id = e.account_id LEFT JOIN auth_user u ON u.id = a.owner_id""",
        "locks": """SELECT u.username, l.currency, l.amount, l.reason, l.reference_type, l.reference_id, l.status,
                           o.idempotency_key, l.created_at, l.released_at, l.split_from_id
                    FROM wallet_locks l JOIN auth_user u ON u.id = l.user_id
                    JOIN operations o ON o.id = l.operation_id""",
        "lots": """SELECT u.username, v.vault_id, v.vault_code, v.currency, v.amount, v.released_amount,
                          v.deposit_day, v.release_day, v.status, o.idempotency_key, v.created_at,
                          v.last_release_operation_id, v.last_released_at
                   FROM vault_vesting_lots v JOIN auth_user u ON u.id = v.user_id
                   JOIN operations o ON o.id = v.source_operation_id""",
    }
    dump = {}
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql)
            dump[name] = sorted(cursor.fetchall(), key=repr)
    return dump


def test_bulk_path_writes_exactly_what_the_services_write(avenir):
    args = {
        "users": 4,
        "lots_per_user": 3,
        "deposit_day": utc_today() - timedelta(days=400),
        "spread_days": 5,
        "amount": "1234.56",
    }
    seed_avenir(**args, method="services")
    by_services = normalized_dump()
    assert_invariants()
    call_command("flush", "--no-input")
    avenir.save()  # flush removed the vault; same id again

    seed_avenir(**args, method="bulk")
    by_bulk = normalized_dump()

    assert len(by_services["lots"]) == 12 and len(by_services["entries"]) == 4 * 2 + 12 * 2
    for table in by_services:
        assert by_bulk[table] == by_services[table], table
    assert_invariants()


def test_seed_command_prints_a_summary(avenir, capsys):
    day = utc_today() - timedelta(days=365)
    call_command("seed_avenir", "--users", "2", "--lots-per-user", "2", "--deposit-day", day.isoformat())
    out = capsys.readouterr().out
    assert '"lots": 4' in out and '"amount_locked": "40000.00"' in out and '"method": "services"' in out
