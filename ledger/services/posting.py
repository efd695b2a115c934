"""Posting: the only way money moves. Operations, entries and balances change together."""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from common.db import filter_in, insert_rows, update_rows
from common.ids import uuid7
from ledger.currencies import check_currency, parse_amount
from ledger.exceptions import (
    AccountMissing,
    IdempotencyConflict,
    InsufficientFunds,
    UnbalancedOperation,
)
from ledger.models import USER_WALLET_KINDS, Account, LedgerEntry, Operation


@dataclass(frozen=True)
class Leg:
    account_id: int
    amount: Decimal  # signed: negative debits the account's balance, positive credits it


@dataclass(frozen=True)
class OperationSpec:
    type: str
    currency: str
    amount: Decimal
    idempotency_key: str
    legs: tuple[Leg, ...]
    user_id: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=uuid7)


@dataclass(frozen=True)
class PostingResult:
    operation_ids: tuple[uuid.UUID, ...]
    entries_count: int


@dataclass(frozen=True)
class AccountState:
    currency: str
    kind: str
    balance: Decimal


def lock_accounts(*, account_ids: Sequence[int]) -> dict[int, AccountState]:
    """SELECT ... FOR UPDATE in ascending id order, so concurrent postings never deadlock."""
    rows = (
        filter_in(Account.objects.select_for_update(), "id", set(account_ids))
        .order_by("pk")
        .values_list("pk", "currency", "kind", "balance")
    )
    return {pk: AccountState(currency, kind, balance) for pk, currency, kind, balance in rows}


def wallet_states(
    *, user_ids: Iterable[int], currency: str, for_update: bool
) -> dict[tuple[int, str], tuple[int, AccountState]]:
    """{(user_id, kind): (account_id, state)} of the users' wallets in one query; with
    for_update the rows are locked in ascending id order, as lock_accounts does."""
    rows = filter_in(Account.objects.filter(currency=currency, kind__in=USER_WALLET_KINDS), "owner", set(user_ids))
    if for_update:
        rows = rows.select_for_update()
    return {
        (owner_id, kind): (pk, AccountState(currency, kind, balance))
        for pk, owner_id, kind, balance in rows.order_by("pk").values_list("pk", "owner_id", "kind", "balance")
    }


def _check_spec(spec: OperationSpec) -> None:
    check_currency(spec.currency)
    parse_amount(spec.amount, spec.currency)
    if len(spec.legs) < 2:
        raise UnbalancedOperation(f"operation {spec.idempotency_key} needs at least two legs")
    if sum((leg.amount for leg in spec.legs), Decimal(0)) != 0:
        raise UnbalancedOperation(f"operation {spec.idempotency_key}: legs do not sum to zero")
    for leg in spec.legs:
        parse_amount(abs(leg.amount), spec.currency)


@transaction.atomic
def post_operations(
    *,
    specs: Sequence[OperationSpec],
    at: datetime | None = None,
    locked: Mapping[int, AccountState] | None = None,
) -> PostingResult:
    """Post many operations at once: one INSERT for operations, one for entries, one
    UPDATE for balances. Raises InsufficientFunds before writing if any user wallet
    would go negative (the CHECK constraint is the last line of defence)."""
    if not specs:
        return PostingResult(operation_ids=(), entries_count=0)
    for spec in specs:
        _check_spec(spec)
    # `locked`: what lock_accounts returned earlier in this same transaction (the rows
    # stay locked until it ends), so a caller that planned on balances locks them once.
    accounts = locked
    if accounts is None:
        accounts = lock_accounts(account_ids=[leg.account_id for spec in specs for leg in spec.legs])
    deltas: dict[int, Decimal] = defaultdict(Decimal)
    for spec in specs:
        for leg in spec.legs:
            account = accounts.get(leg.account_id)
            if account is None or account.currency != spec.currency:
                raise AccountMissing(f"account {leg.account_id} does not exist in {spec.currency}")
            deltas[leg.account_id] += leg.amount
    new_balances = []
    for account_id in sorted(deltas):
        account = accounts[account_id]
        balance = account.balance + deltas[account_id]
        if balance < 0 and account.kind in USER_WALLET_KINDS:
            raise InsufficientFunds(
                f"account {account_id} ({account.kind} {account.currency}) has {account.balance}, "
                f"needs {-deltas[account_id]}",
                account_id=account_id,
            )
        new_balances.append((account_id, balance))

    created_at = at or timezone.now()
    insert_rows(
        Operation,
        fields=["id", "type", "user", "currency", "amount", "operation_metadata", "idempotency_key", "created_at"],
        rows=[
            (s.id, s.type, s.user_id, s.currency, s.amount, dict(s.metadata), s.idempotency_key, created_at)
            for s in specs
        ],
    )
    entries = insert_rows(
        LedgerEntry,
        fields=["operation", "account", "currency", "amount"],
        rows=[(spec.id, leg.account_id, spec.currency, leg.amount) for spec in specs for leg in spec.legs],
    )
    update_rows(Account, key="id", fields=["balance"], rows=new_balances)
    return PostingResult(operation_ids=tuple(spec.id for spec in specs), entries_count=entries)


@transaction.atomic
def post_operation(*, spec: OperationSpec, at: datetime | None = None) -> tuple[Operation, bool]:
    """Post one operation, idempotently: the same key returns the existing operation
    (created=False); the same key for a different movement raises IdempotencyConflict.

    The key is checked after the accounts are locked: two concurrent callers with one key
    touch the same accounts, so the second waits for the first and then finds its operation
    (instead of failing on its balance or on the unique index)."""
    locked = lock_accounts(account_ids=[leg.account_id for leg in spec.legs])
    existing = Operation.objects.filter(idempotency_key=spec.idempotency_key).first()
    if existing is None:
        post_operations(specs=[spec], at=at, locked=locked)
        return Operation.objects.get(pk=spec.id), True
    same = (existing.type, existing.currency, existing.amount, existing.user_id) == (
        spec.type,
        spec.currency,
        spec.amount,
        spec.user_id,
    )
    if not same:
        raise IdempotencyConflict(f"idempotency key {spec.idempotency_key!r} was used for another operation")
    return existing, False
