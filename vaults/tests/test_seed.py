"""The bulk seed path writes exactly what the services write for the same input."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from ledger.exceptions import IdempotencyConflict
from ledger.tests.factories import FundingFactory, UserFactory
from vaults.models import VestingLot
from vaults.services.release import utc_today
from vaults.services.seed import seed_avenir
from vaults.tests.support.database import assert_invariants

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


def test_bulk_seed_reuses_existing_users_of_the_prefix_as_the_services_do(avenir):
    """A bigger seed over a smaller one: both paths reuse the users (and a pre-existing
    wallet) and write the same rows."""
    first = {"users": 2, "lots_per_user": 1, "deposit_day": utc_today() - timedelta(days=400)}
    second = {"users": 4, "lots_per_user": 2, "deposit_day": utc_today() - timedelta(days=399), "spread_days": 2}

    def seed_twice(method: str) -> dict[str, list[tuple]]:
        # A user of the prefix that no seed created, already funded: reused as well.
        owner = UserFactory(username="avenir-seed-0000003")
        FundingFactory(user=owner, amount=Decimal("5.00"), idempotency_key="own", at=datetime(2025, 1, 1, tzinfo=UTC))
        seed_avenir(**first, method="services")
        seed_avenir(**second, method=method)
        return normalized_dump()

    by_services = seed_twice("services")
    call_command("flush", "--no-input")
    avenir.save()
    by_bulk = seed_twice("bulk")

    assert len(by_services["users"]) == 4 and len(by_services["lots"]) == 2 + 8
    for table in by_services:
        assert by_bulk[table] == by_services[table], table
    assert_invariants()


def test_bulk_seed_is_idempotent_and_refuses_a_key_used_for_another_amount(avenir):
    args = {"users": 3, "lots_per_user": 2, "deposit_day": utc_today() - timedelta(days=400)}
    seed_avenir(**args, method="bulk")
    before = normalized_dump()

    seed_avenir(**args, method="bulk")
    assert normalized_dump() == before

    with pytest.raises(IdempotencyConflict):  # the same funding key for 2 x 999.00
        seed_avenir(**args, amount="999.00", method="bulk")
    assert normalized_dump() == before
    assert_invariants()


def test_seed_command_bulk_after_a_smaller_seed(avenir, capsys):
    """Above the bulk threshold after a small seed with the same prefix (the users clashed)."""
    call_command("seed_avenir", "--users", "3", "--lots-per-user", "1", "--deposit-day", "2025-01-01")
    day = (utc_today() - timedelta(days=10)).isoformat()
    call_command("seed_avenir", "--users", "3000", "--lots-per-user", "2", "--deposit-day", day)
    assert '"method": "bulk"' in capsys.readouterr().out
    assert VestingLot.objects.count() == 3 + 6000
    assert get_user_model().objects.count() == 3000
    assert_invariants()
