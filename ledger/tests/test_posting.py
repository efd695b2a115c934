"""The posting service and the invariants PostgreSQL enforces on the ledger."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.exceptions import IdempotencyConflict, InsufficientFunds, InvalidAmount, UnbalancedOperation
from ledger.models import Account, AccountKind, LedgerEntry, Operation, OperationType
from ledger.services.accounts import ensure_wallet_accounts
from ledger.services.posting import Leg, OperationSpec, post_operation, post_operations
from ledger.tests.factories import FundingFactory, UserFactory
from ledger.verification import verify_ledger

pytestmark = pytest.mark.django_db(transaction=True)


def move(user, wallets, amount: str, key: str) -> OperationSpec:
    a = Decimal(amount)
    return OperationSpec(
        type=OperationType.ADJUSTMENT,
        user_id=user.pk,
        currency="AED",
        amount=a,
        idempotency_key=key,
        legs=(Leg(wallets.available_id, -a), Leg(wallets.locked_id, a)),
    )


def test_funding_posts_balanced_entries_and_updates_balances():
    user = UserFactory()
    FundingFactory(user=user, amount=Decimal("250.50"))
    available = Account.objects.get(owner=user, kind=AccountKind.WALLET_AVAILABLE)
    system = Account.objects.get(owner=None, kind=AccountKind.SYSTEM_FUNDING, currency="AED")
    assert available.balance == Decimal("250.50")
    assert system.balance == Decimal("-250.50")
    op = Operation.objects.get(type=OperationType.FUNDING)
    assert sorted(op.entries.values_list("amount", flat=True)) == [Decimal("-250.50"), Decimal("250.50")]
    assert verify_ledger().ok


def test_insufficient_funds_is_a_domain_error_and_writes_nothing():
    user = UserFactory()
    FundingFactory(user=user, amount=Decimal("100.00"))
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    before = Operation.objects.count()
    with pytest.raises(InsufficientFunds):
        post_operations(specs=[move(user, wallets, "100.01", "too-much")])
    assert Operation.objects.count() == before
    assert Account.objects.get(pk=wallets.available_id).balance == Decimal("100.00")


def test_unbalanced_spec_is_refused_before_sql():
    user = UserFactory()
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    spec = OperationSpec(
        type=OperationType.ADJUSTMENT,
        user_id=user.pk,
        currency="AED",
        amount=Decimal("1.00"),
        idempotency_key="unbalanced",
        legs=(Leg(wallets.available_id, Decimal("-1.00")), Leg(wallets.locked_id, Decimal("2.00"))),
    )
    with pytest.raises(UnbalancedOperation):
        post_operations(specs=[spec])


@pytest.mark.parametrize("amount", ["0", "-1", "1.001", "NaN", 1.5])
def test_bad_amounts_are_refused(amount):
    user = UserFactory()
    with pytest.raises(InvalidAmount):
        FundingFactory(user=user, amount=amount)


def test_post_operation_is_idempotent_and_detects_conflicts():
    user = UserFactory()
    FundingFactory(user=user, amount=Decimal("50.00"))
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    first, created = post_operation(spec=move(user, wallets, "10.00", "k1"))
    again, created_again = post_operation(spec=move(user, wallets, "10.00", "k1"))
    assert created and not created_again and first.pk == again.pk
    assert Account.objects.get(pk=wallets.locked_id).balance == Decimal("10.00")
    with pytest.raises(IdempotencyConflict):
        post_operation(spec=move(user, wallets, "11.00", "k1"))


def test_database_rejects_unbalanced_entries():
    """The per-statement trigger, not the ORM, guards invariant 1."""
    user = UserFactory()
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    with pytest.raises(IntegrityError, match="sum to"), transaction.atomic():
        op = Operation.objects.create(
            type=OperationType.ADJUSTMENT,
            user=user,
            currency="AED",
            amount=Decimal("5.00"),
            idempotency_key="raw-unbalanced",
            created_at="2026-01-01T00:00:00Z",
        )
        LedgerEntry.objects.create(operation=op, account_id=wallets.locked_id, currency="AED", amount=5)
    assert not Operation.objects.filter(idempotency_key="raw-unbalanced").exists()


def test_database_rejects_negative_user_wallet():
    user = UserFactory()
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    with pytest.raises(IntegrityError, match="account_user_wallet_balance_non_negative"):
        Account.objects.filter(pk=wallets.available_id).update(balance=Decimal("-0.01"))


def test_operations_and_entries_are_immutable():
    user = UserFactory()
    FundingFactory(user=user, amount=Decimal("10.00"))
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        Operation.objects.update(amount=Decimal("99.00"))
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        LedgerEntry.objects.all().delete()
    assert Operation.objects.get().amount == Decimal("10.00")


def test_idempotency_key_is_unique_in_the_database():
    user = UserFactory()
    FundingFactory(user=user, amount=Decimal("10.00"), idempotency_key="dup")
    op = Operation.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO operations (id, type, currency, amount, operation_metadata, idempotency_key, created_at) "
            "VALUES (gen_random_uuid(), 'FUNDING', 'AED', 1, '{}', %s, now())",
            [op.idempotency_key],
        )


def raw_operation(user, key: str) -> Operation:
    return Operation.objects.create(
        type=OperationType.ADJUSTMENT,
        user=user,
        currency="AED",
        amount=Decimal("5.00"),
        idempotency_key=key,
        created_at="2026-01-01T00:00:00Z",
    )


def insert_entries(rows: list[tuple]) -> None:
    """One INSERT statement for all the rows, as the posting service writes them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_entries (operation_id, account_id, currency, amount) VALUES "
            + ", ".join(["(%s, %s, 'AED', %s)"] * len(rows)),
            [value for row in rows for value in row],
        )


def test_database_checks_each_operation_of_a_statement_not_its_total():
    """Two operations whose legs cancel out only across each other are both unbalanced."""
    user = UserFactory()
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    with pytest.raises(IntegrityError, match="sum to"), transaction.atomic():
        first, second = raw_operation(user, "raw-a"), raw_operation(user, "raw-b")
        insert_entries([(first.pk, wallets.available_id, Decimal("-5")), (second.pk, wallets.locked_id, Decimal("5"))])
    assert not Operation.objects.filter(idempotency_key__startswith="raw-").exists()


def test_database_accepts_many_balanced_operations_in_one_statement():
    user = UserFactory()
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    with transaction.atomic():
        ops = [raw_operation(user, f"raw-{i}") for i in range(3)]
        insert_entries(
            [(op.pk, wallets.available_id, Decimal("-5")) for op in ops]
            + [(op.pk, wallets.locked_id, Decimal("5")) for op in ops]
        )
    assert LedgerEntry.objects.count() == 6


def test_database_rejects_a_later_statement_that_unbalances_an_operation():
    """An operation balanced by its first statement cannot take an extra leg afterwards."""
    user = UserFactory()
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    with transaction.atomic():
        op = raw_operation(user, "raw-late")
        insert_entries([(op.pk, wallets.available_id, Decimal("-5")), (op.pk, wallets.locked_id, Decimal("5"))])
    with pytest.raises(IntegrityError, match="sum to"), transaction.atomic():
        insert_entries([(op.pk, wallets.locked_id, Decimal("1"))])
    assert LedgerEntry.objects.filter(operation=op).count() == 2


def test_database_rejects_legs_of_one_operation_split_across_statements():
    """Stricter than a check at COMMIT: each INSERT must balance its operations on its own
    (entries are immutable, so that is what keeps every operation balanced)."""
    user = UserFactory()
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    with pytest.raises(IntegrityError, match="sum to"), transaction.atomic():
        op = raw_operation(user, "raw-split")
        insert_entries([(op.pk, wallets.available_id, Decimal("-5"))])
        insert_entries([(op.pk, wallets.locked_id, Decimal("5"))])
    assert not Operation.objects.filter(idempotency_key="raw-split").exists()
