"""The references that statement triggers check instead of per-row foreign keys.

Entries point at their operation and account, a closed lock and a released lot at their
release operation. Each check refuses the orphan row with a clear error, and what the
references point at can neither be deleted, nor re-keyed, nor truncated away alone.
"""

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.models import Account, AccountKind, LedgerEntry, Operation, WalletLock
from ledger.tests.factories import FundingFactory, UserFactory
from vaults.models import VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.database import assert_invariants

pytestmark = pytest.mark.django_db

MISSING = uuid.UUID("00000000-0000-7000-8000-000000000000")


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused(match: str):
    """The statement fails with IntegrityError and rolls back alone (a savepoint)."""
    return pytest.raises(IntegrityError, match=match)


def wallets(user) -> tuple[Account, Account]:
    return (
        Account.objects.get(owner=user, kind=AccountKind.WALLET_AVAILABLE),
        Account.objects.get(owner=user, kind=AccountKind.WALLET_LOCKED),
    )


def test_an_entry_of_an_operation_that_does_not_exist_is_refused():
    user = UserFactory()
    FundingFactory(user=user)
    available, locked = wallets(user)
    with refused(f"operation {MISSING} does not exist"), transaction.atomic():
        sql(
            "INSERT INTO ledger_entries (operation_id, account_id, currency, amount) "
            "VALUES (%s, %s, 'AED', -1), (%s, %s, 'AED', 1)",
            [MISSING, available.pk, MISSING, locked.pk],
        )
    assert not LedgerEntry.objects.filter(operation_id=MISSING).exists()


def test_an_entry_on_an_account_that_does_not_exist_is_refused():
    user = UserFactory()
    funding = FundingFactory(user=user)
    available, _ = wallets(user)
    with refused("account 987654321 does not exist"), transaction.atomic():
        sql(
            "INSERT INTO ledger_entries (operation_id, account_id, currency, amount) "
            "VALUES (%s, %s, 'AED', -1), (%s, 987654321, 'AED', 1)",
            [funding.operation_id, available.pk, funding.operation_id],
        )


def test_an_entry_in_another_currency_than_its_account_is_refused():
    user = UserFactory()
    funding = FundingFactory(user=user)
    available, locked = wallets(user)
    with refused(f"EUR entry on account {locked.pk}, which holds AED"), transaction.atomic():
        sql(
            "INSERT INTO ledger_entries (operation_id, account_id, currency, amount) "
            "VALUES (%s, %s, 'EUR', -1), (%s, %s, 'EUR', 1)",
            [funding.operation_id, locked.pk, funding.operation_id, available.pk],
        )


def test_a_lock_closed_by_an_operation_that_does_not_exist_is_refused():
    deposit = DepositFactory(release_day=utc_today())
    message = f"wallet lock {deposit.lock_id} refused: operation {MISSING} does not exist"
    with refused(message), transaction.atomic():
        sql(
            "UPDATE wallet_locks SET status = 'RELEASED', released_at = now(), release_operation_id = %s WHERE id = %s",
            [MISSING, deposit.lock_id],
        )
    assert WalletLock.objects.get(pk=deposit.lock_id).release_operation_id is None


def test_a_lock_created_with_a_release_operation_that_does_not_exist_is_refused():
    deposit = DepositFactory(release_day=utc_today())
    lock = WalletLock.objects.get(pk=deposit.lock_id)
    with refused(f"refused: operation {MISSING} does not exist"), transaction.atomic():
        WalletLock.objects.create(
            user_id=lock.user_id,
            currency="AED",
            amount=Decimal("1.00"),
            reason=lock.reason,
            reference_type=lock.reference_type,
            reference_id=lock.reference_id,
            status="RELEASED",
            released_at=lock.created_at,
            release_operation_id=MISSING,
            created_at=lock.created_at,
        )


def test_a_lot_released_by_an_operation_that_does_not_exist_is_refused():
    deposit = DepositFactory(release_day=utc_today())
    message = f"lot {deposit.lot_id} refused: release operation {MISSING} does not exist"
    with refused(message), transaction.atomic():
        sql(
            "UPDATE vault_vesting_lots SET status = 'RELEASED', released_amount = amount, "
            "last_release_operation_id = %s, last_released_at = now() WHERE id = %s",
            [MISSING, deposit.lot_id],
        )
    assert VestingLot.objects.get(pk=deposit.lot_id).status == "VESTED"


def test_the_release_writes_rows_that_pass_every_check():
    deposits = [DepositFactory(release_day=utc_today()) for _ in range(3)]
    summary = release_matured_lots(currency="AED", workers=1)
    assert summary.executed_count == 3
    lots = VestingLot.objects.filter(pk__in=[d.lot_id for d in deposits])
    ops = set(Operation.objects.filter(type="VAULT_VESTING_RELEASE").values_list("id", flat=True))
    assert {lot.last_release_operation_id for lot in lots} == ops
    assert (
        set(
            WalletLock.objects.filter(pk__in=[d.lock_id for d in deposits]).values_list(
                "release_operation_id", flat=True
            )
        )
        == ops
    )
    assert_invariants()


def test_an_account_is_never_deleted_nor_given_another_id():
    user = UserFactory()
    FundingFactory(user=user)
    available, _ = wallets(user)
    with refused(f"account {available.pk} cannot be deleted or get another id"), transaction.atomic():
        sql("DELETE FROM ledger_accounts WHERE id = %s", [available.pk])
    with refused(f"account {available.pk} cannot be deleted or get another id"), transaction.atomic():
        sql("UPDATE ledger_accounts SET id = id + 1000000 WHERE id = %s", [available.pk])
    sql("UPDATE ledger_accounts SET balance = balance WHERE id = %s", [available.pk])  # other columns still change


def test_operations_and_accounts_are_not_truncated_while_rows_point_at_them():
    DepositFactory(release_day=utc_today())
    release_matured_lots(currency="AED", workers=1)
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses to run with deferred checks pending
    for table in ("operations", "ledger_accounts"):
        with refused(f"cannot truncate {table} alone"), transaction.atomic():
            sql(f"TRUNCATE {table} CASCADE")
    assert Operation.objects.exists() and Account.objects.exists()
