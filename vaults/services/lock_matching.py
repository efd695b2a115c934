"""Finding and closing the wallet lock of a vesting lot, as the lock-link audit document specifies.

1. `WalletLock.operation_id == VestingLot.source_operation_id` (the direct link).
2. Fallback when that finds nothing: same user, currency, reason, ACTIVE, reference
   (the vault), amount within 0.01 of the lot amount, created on the deposit's UTC day.
3. Several fallback matches: the oldest (FIFO).
A lock larger than the release is split: the released part is closed and an ACTIVE
remainder keeps the rest.
"""

from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from uuid import UUID

from django.db.models import Exists, OuterRef, Q, QuerySet

from common.db import filter_in, update_rows
from ledger.models import LockReason, LockReferenceType, LockStatus, WalletLock
from vaults.models import LotStatus, Vault, VestingLot

FALLBACK_AMOUNT_TOLERANCE = Decimal("0.01")


@dataclass(frozen=True)
class LotKey:
    """What lock matching needs to know about a lot."""

    lot_id: int
    user_id: int
    amount: Decimal
    deposit_day: date
    source_operation_id: UUID


@dataclass(frozen=True)
class MatchedLock:
    """The two things a release needs of the lock it closes (no model instance: a run
    matches one lock per lot, and building a model each is a large share of its cost)."""

    pk: int
    amount: Decimal


@dataclass(frozen=True)
class LockMatch:
    lock: MatchedLock
    via: Literal["operation_id", "fallback"]
    candidates: int  # how many locks matched (>1 only for an ambiguous fallback)


def fallback_candidates(*, vault: Vault, user_id: int, amount: Decimal, deposit_day: date) -> QuerySet[WalletLock]:
    """ACTIVE locks the audit's fallback accepts for a lot, oldest first.

    A lock still linked to another unreleased lot is never taken: that lot will
    close it through the direct link.
    """
    day_start = datetime.combine(deposit_day, time.min, tzinfo=UTC)
    linked_to_pending_lot = VestingLot.objects.filter(
        source_operation_id=OuterRef("operation_id"), status=LotStatus.VESTED
    )
    return (
        WalletLock.objects.filter(
            user_id=user_id,
            currency=vault.currency,
            reason=LockReason.VAULT_AVENIR_VESTING,
            reference_type=LockReferenceType.VAULT,
            reference_id=vault.pk,
            status=LockStatus.ACTIVE,
            amount__gte=amount - FALLBACK_AMOUNT_TOLERANCE,
            amount__lte=amount + FALLBACK_AMOUNT_TOLERANCE,
            created_at__gte=day_start,
            created_at__lt=day_start + timedelta(days=1),
        )
        .filter(Q(operation__isnull=True) | ~Exists(linked_to_pending_lot))
        .order_by("created_at", "pk")
    )


def match_locks(
    *, vault: Vault, lots: Sequence[LotKey], for_update: bool, taken: Set[int] = frozenset()
) -> dict[int, LockMatch]:
    """{lot_id: LockMatch} for the lots whose lock was found; the others have none.
    `taken`: locks already promised to other lots (a dry run's earlier chunks)."""
    direct = filter_in(
        WalletLock.objects.filter(status=LockStatus.ACTIVE), "operation", [lot.source_operation_id for lot in lots]
    ).order_by("pk")
    if for_update:
        direct = direct.select_for_update()
    rows = direct.values_list("pk", "amount", "operation")
    by_operation = {operation_id: MatchedLock(pk, amount) for pk, amount, operation_id in rows}
    matches: dict[int, LockMatch] = {}
    taken = set(taken)
    for lot in lots:
        lock = by_operation.get(lot.source_operation_id)
        if lock is not None:
            matches[lot.lot_id] = LockMatch(lock=lock, via="operation_id", candidates=1)
            taken.add(lock.pk)
    unlinked = [lot for lot in lots if lot.lot_id not in matches]
    matches.update(match_fallback_locks(vault=vault, lots=unlinked, for_update=for_update, taken=taken))
    return matches


def match_fallback_locks(
    *, vault: Vault, lots: Sequence[LotKey], for_update: bool, taken: set[int]
) -> dict[int, LockMatch]:
    """The audit's fallback for lots whose direct link found nothing: the rare path,
    one query per lot. Each lock found is added to `taken`, so no lock is promised
    to two lots."""
    matches: dict[int, LockMatch] = {}
    for lot in lots:
        candidates = fallback_candidates(
            vault=vault,
            user_id=lot.user_id,
            amount=lot.amount,
            deposit_day=lot.deposit_day,
        ).exclude(pk__in=sorted(taken))
        if for_update:
            candidates = candidates.select_for_update()
        found = [MatchedLock(pk, amount) for pk, amount in candidates.values_list("pk", "amount")[:2]]
        if found:
            matches[lot.lot_id] = LockMatch(lock=found[0], via="fallback", candidates=len(found))
            taken.add(found[0].pk)
    return matches


@dataclass(frozen=True)
class LockClosure:
    lock: MatchedLock
    release_amount: Decimal
    release_operation_id: UUID


def close_locks(*, closures: Sequence[LockClosure], at: datetime) -> int:
    """Close the locks (rows the caller locked) set-based; returns how many were split."""
    rows = []
    remainders: dict[int, Decimal] = {}
    for closure in closures:
        lock = closure.lock
        closed_amount = min(lock.amount, closure.release_amount)
        rows.append((lock.pk, LockStatus.RELEASED, at, closure.release_operation_id, closed_amount))
        if lock.amount > closure.release_amount:
            remainders[lock.pk] = lock.amount - closure.release_amount
    # Splits are rare: only their locks are read whole, to copy into the remainders.
    split = (
        [
            WalletLock(
                user_id=lock.user_id,
                currency=lock.currency,
                amount=remainders[lock.pk],
                reason=lock.reason,
                reference_type=lock.reference_type,
                reference_id=lock.reference_id,
                status=LockStatus.ACTIVE,
                operation_id=lock.operation_id,
                created_at=lock.created_at,  # keeps its FIFO position
                split_from_id=lock.pk,
            )
            for lock in WalletLock.objects.filter(pk__in=sorted(remainders)).order_by("pk")
        ]
        if remainders
        else []
    )
    # The closing UPDATE runs first: the remainder takes over the one ACTIVE slot per operation.
    update_rows(
        WalletLock,
        key="id",
        fields=["status", "released_at", "release_operation", "amount"],
        rows=rows,
    )
    WalletLock.objects.bulk_create(split)
    return len(split)
