"""Deposit into a vault: one VAULT_DEPOSIT operation, its wallet lock and its vesting lot."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from ledger.currencies import parse_amount
from ledger.models import (
    LockReason,
    LockReferenceType,
    Operation,
    OperationType,
    WalletLock,
)
from ledger.services.accounts import ensure_wallet_accounts
from ledger.services.posting import Leg, OperationSpec, lock_accounts, post_operations
from vaults.exceptions import DepositConflict
from vaults.models import Vault, VestingLot


@dataclass(frozen=True)
class DepositResult:
    operation_id: UUID
    lot_id: int
    lock_id: int
    created: bool


def deposit_idempotency_key(key: str) -> str:
    return f"vault-deposit:{key}"


@transaction.atomic
def deposit_to_vault(
    *,
    user_id: int,
    vault: Vault,
    amount: Decimal | str,
    idempotency_key: str,
    at: datetime | None = None,
) -> DepositResult:
    """Lock `amount` of the user's available wallet in the vault until deposit day + vesting period.

    Idempotent on `idempotency_key`: a repeat returns the first deposit (created=False).
    `at` (default now) dates the deposit; its UTC date is the deposit day.
    """
    amount = parse_amount(amount, vault.currency)
    op_key = deposit_idempotency_key(idempotency_key)
    at = at or timezone.now()
    wallets = ensure_wallet_accounts(user_id=user_id, currency=vault.currency)
    # Lock the user's wallets before looking the key up: a concurrent deposit with the same
    # key holds them, so this one waits, then finds that deposit instead of failing.
    locked = lock_accounts(account_ids=[wallets.available_id, wallets.locked_id])
    existing = Operation.objects.filter(idempotency_key=op_key).first()
    if existing is not None:
        return _existing_deposit(existing, user_id=user_id, vault=vault, amount=amount, key=idempotency_key)
    spec = OperationSpec(
        type=OperationType.VAULT_DEPOSIT,
        user_id=user_id,
        currency=vault.currency,
        amount=amount,
        idempotency_key=op_key,
        metadata={"vault_code": vault.code, "deposit_day": _deposit_day(at).isoformat()},
        legs=(Leg(wallets.available_id, -amount), Leg(wallets.locked_id, amount)),
    )
    post_operations(specs=[spec], at=at, locked=locked)
    return _create_lock_and_lot(spec=spec, vault=vault, at=at)


def _existing_deposit(existing: Operation, *, user_id: int, vault: Vault, amount: Decimal, key: str) -> DepositResult:
    lot = VestingLot.objects.get(source_operation=existing)
    if (existing.user_id, lot.vault_id, lot.amount) != (user_id, vault.pk, amount):
        raise DepositConflict(f"idempotency key {key!r} was used for another deposit")
    lock = WalletLock.objects.filter(operation=existing).order_by("pk").first()
    return DepositResult(operation_id=existing.pk, lot_id=lot.pk, lock_id=lock.pk if lock else 0, created=False)


def _deposit_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def _create_lock_and_lot(*, spec: OperationSpec, vault: Vault, at: datetime) -> DepositResult:
    user_id, amount, deposit_day = spec.user_id, spec.amount, _deposit_day(at)
    lock = WalletLock.objects.create(
        user_id=user_id,
        currency=vault.currency,
        amount=amount,
        reason=LockReason.VAULT_AVENIR_VESTING,
        reference_type=LockReferenceType.VAULT,
        reference_id=vault.pk,
        operation_id=spec.id,
        created_at=at,
    )
    lot = VestingLot.objects.create(
        vault=vault,
        vault_code=vault.code,
        user_id=user_id,
        currency=vault.currency,
        amount=amount,
        deposit_day=deposit_day,
        release_day=deposit_day + timedelta(days=vault.vesting_days),
        source_operation_id=spec.id,
        created_at=at,
    )
    return DepositResult(operation_id=spec.id, lot_id=lot.pk, lock_id=lock.pk, created=True)
