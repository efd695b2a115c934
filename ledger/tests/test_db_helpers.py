"""The set-based SQL helpers round-trip awkward values exactly (PostgreSQL)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from common.db import filter_in, insert_rows, update_rows
from common.ids import uuid7
from ledger.models import Operation, OperationType
from ledger.tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

AWKWARD = ["plain", 'with "quotes"', "back\\slash", "comma, {braces}", "NULL", "", "accents é, emoji 🙂"]


def test_insert_rows_and_filter_in_round_trip_awkward_values():
    user = UserFactory()
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    rows = []
    for i, text in enumerate(AWKWARD):
        rows.append(
            (
                uuid7(),
                OperationType.ADJUSTMENT,
                user.pk if i % 2 else None,
                "AED",
                Decimal(f"{i + 1}.05"),
                {"note": text, "n": i, "nested": {"t": text}},
                f"key-{text}-{i}",
                at,
            )
        )
    # Balanced entries are not needed: nothing commits an entry here.
    fields = ["id", "type", "user", "currency", "amount", "operation_metadata", "idempotency_key", "created_at"]
    assert insert_rows(Operation, fields=fields, rows=rows) == len(AWKWARD)
    stored = {op.pk: op for op in filter_in(Operation.objects.all(), "id", [r[0] for r in rows])}
    assert len(stored) == len(AWKWARD)
    for row in rows:
        op = stored[row[0]]
        assert (op.user_id, op.amount, op.operation_metadata, op.idempotency_key, op.created_at) == (
            row[2],
            row[4],
            row[5],
            row[6],
            row[7],
        )
    keys = [r[6] for r in rows]
    assert filter_in(Operation.objects.all(), "idempotency_key", keys).count() == len(AWKWARD)


def test_update_rows_sets_per_row_values_and_nulls():
    from ledger.models import Account, AccountKind

    users = [UserFactory() for _ in range(3)]
    accounts = [Account.objects.create(owner=u, currency="AED", kind=AccountKind.WALLET_LOCKED) for u in users]
    updated = update_rows(
        Account, key="id", fields=["balance"], rows=[(a.pk, Decimal(f"{i}.99")) for i, a in enumerate(accounts)]
    )
    assert updated == 3
    assert [Account.objects.get(pk=a.pk).balance for a in accounts] == [
        Decimal("0.99"),
        Decimal("1.99"),
        Decimal("2.99"),
    ]


def test_repeated_values_none_and_uuid_strings_round_trip():
    """Repeating columns are encoded once per distinct value; NULLs and uuid strings still land right."""
    from datetime import timedelta, timezone

    user = UserFactory()
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    same_instant = at.astimezone(timezone(timedelta(hours=4)))  # equal to `at`, another offset
    ids = [uuid7() for _ in range(4)]
    amounts = [Decimal("10.00"), Decimal("10.0"), Decimal("10.00"), Decimal("7.50")]
    rows = [
        (ids[i], OperationType.ADJUSTMENT, None if i == 2 else user.pk, "AED", amounts[i], {}, f"rep-{i}", when)
        for i, when in enumerate([at, same_instant, at, same_instant])
    ]
    fields = ["id", "type", "user", "currency", "amount", "operation_metadata", "idempotency_key", "created_at"]
    insert_rows(Operation, fields=fields, rows=rows)
    stored = {op.pk: op for op in filter_in(Operation.objects.all(), "id", [str(i) for i in ids])}
    assert [stored[i].amount for i in ids] == [Decimal("10.00"), Decimal("10.00"), Decimal("10.00"), Decimal("7.50")]
    assert [stored[i].user_id for i in ids] == [user.pk, user.pk, None, user.pk]
    assert {stored[i].created_at for i in ids} == {at}


def test_pg_array_never_merges_values_that_encode_differently():
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from common.db import pg_array
    from ledger.models import Operation, WalletLock

    # 01:30 happens twice in New York on 2026-11-01; equal as wall-clock times, not as instants.
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)
    assert first == second and second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    released_at = WalletLock._meta.get_field("released_at")
    assert pg_array(released_at, [first, None, second, first]) == (
        '{"2026-11-01T01:30:00-04:00",NULL,"2026-11-01T01:30:00-05:00","2026-11-01T01:30:00-04:00"}'
    )
    key = Operation._meta.get_field("idempotency_key")
    assert pg_array(key, [1, True, "1", 1.0, None, "1"]) == '{"1","True","1","1.0",NULL,"1"}'
