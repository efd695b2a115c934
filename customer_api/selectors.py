"""A user's transaction history, as the customer API shows it.

Keyset pagination on (created_at, id), newest first: the page query walks the
`operations_user_created_id` index backwards from the cursor and stops after
`limit + 1` rows, so its cost does not depend on how much history the user has,
and no COUNT(*) is ever run. Everything an item needs (direction, lot, product
label) comes from correlated subqueries on indexed columns in the same query:
one SQL statement per page, never one per row.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db.models import BigIntegerField, F, OuterRef, Q, Subquery, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from ledger.models import AccountKind, LedgerEntry, Operation, OperationType
from vaults.models import Vault

# Labels of the operations that do not belong to a vault product.
OPERATION_LABELS: dict[str, str] = {
    OperationType.FUNDING: "Wallet funding",
    OperationType.ADJUSTMENT: "Adjustment",
    OperationType.VAULT_DEPOSIT: "Vault deposit",
    OperationType.VAULT_VESTING_RELEASE: "Vault release",
    OperationType.VAULT_VESTING_RELEASE_REVERSAL: "Vault release reversal",
}
# Used only when an operation has no leg on the user's available wallet (none does today).
DIRECTION_BY_TYPE: dict[str, str] = {
    OperationType.FUNDING: "IN",
    OperationType.VAULT_VESTING_RELEASE: "IN",
    OperationType.VAULT_VESTING_RELEASE_REVERSAL: "OUT",
    OperationType.VAULT_DEPOSIT: "OUT",
    OperationType.ADJUSTMENT: "IN",
}
VAULT_OPERATION_TYPES = frozenset(
    {OperationType.VAULT_DEPOSIT, OperationType.VAULT_VESTING_RELEASE, OperationType.VAULT_VESTING_RELEASE_REVERSAL}
)


@dataclass(frozen=True)
class HistoryCursor:
    """The position after which the next page starts: the last item's (created_at, id)."""

    created_at: datetime
    id: UUID


@dataclass(frozen=True)
class HistoryItem:
    id: UUID
    operation_type: str
    product_label: str
    direction: str  # "IN" or "OUT", seen from the user's available wallet
    amount: Decimal  # always positive
    currency: str
    created_at: datetime
    lot_id: int | None


@dataclass(frozen=True)
class HistoryPage:
    items: tuple[HistoryItem, ...]
    next_cursor: HistoryCursor | None


def _available_delta() -> Subquery:
    """The signed sum of the operation's legs on its user's WALLET_AVAILABLE accounts
    (ledger_entries.operation_id is indexed). The ledger, not the type, says IN or OUT."""
    legs = (
        LedgerEntry.objects.filter(
            operation_id=OuterRef("pk"),
            account__kind=AccountKind.WALLET_AVAILABLE,
            account__owner_id=OuterRef("user_id"),
        )
        .order_by()
        .values("operation_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Subquery(legs[:1])


def _metadata_lot_id() -> Cast:
    """The lot a release or a reversal names in its metadata (a lot released again after a
    reversal has several release operations; each names its lot)."""
    return Cast(KeyTextTransform("lot_id", "operation_metadata"), BigIntegerField())


def _vault_label() -> Subquery:
    """The product label of the vault a release or a reversal names (vault_code, currency)."""
    return Subquery(
        Vault.objects.filter(
            code=KeyTextTransform("vault_code", OuterRef("operation_metadata")), currency=OuterRef("currency")
        ).values("product_label")[:1]
    )


def transaction_history(
    *,
    user_id: int,
    limit: int,
    operation_type: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    after: HistoryCursor | None = None,
) -> HistoryPage:
    """One page of the user's operations, newest first.

    `created_from` and `created_to` are inclusive bounds on created_at. `after` is the
    cursor returned with the previous page; operations posted since then are newer
    than it, so they never shift the following pages.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    # user_id is always the first filter: no other parameter can widen the set.
    operations = Operation.objects.filter(user_id=user_id)
    if operation_type is not None:
        operations = operations.filter(type=operation_type)
    if created_from is not None:
        operations = operations.filter(created_at__gte=created_from)
    if created_to is not None:
        operations = operations.filter(created_at__lte=created_to)
    if after is not None:
        # (created_at, id) < (c, i), spelled so that `created_at <= c` bounds the index scan.
        operations = operations.filter(
            Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, id__lt=after.id),
            created_at__lte=after.created_at,
        )
    rows = list(
        operations.annotate(
            available_delta=_available_delta(),
            # Deposits: the lot whose source is this operation (one-to-one, unique index);
            # releases and reversals: the lot and vault their metadata names.
            lot_ref=Coalesce(F("vesting_lot__id"), _metadata_lot_id()),
            vault_label=Coalesce(F("vesting_lot__vault__product_label"), _vault_label()),
        )
        .order_by("-created_at", "-id")
        .values("id", "type", "currency", "amount", "created_at", "available_delta", "lot_ref", "vault_label")[
            : limit + 1
        ]
    )
    page, more = rows[:limit], len(rows) > limit
    items = tuple(_item(row) for row in page)
    next_cursor = HistoryCursor(created_at=page[-1]["created_at"], id=page[-1]["id"]) if more else None
    return HistoryPage(items=items, next_cursor=next_cursor)


def _item(row: dict) -> HistoryItem:
    delta = row["available_delta"]
    # The ledger decides; the type only when there is no leg on the available wallet.
    direction = DIRECTION_BY_TYPE.get(row["type"], "OUT") if not delta else ("IN" if delta > 0 else "OUT")
    is_vault = row["type"] in VAULT_OPERATION_TYPES
    label = row["vault_label"] if is_vault and row["vault_label"] else OPERATION_LABELS.get(row["type"], row["type"])
    return HistoryItem(
        id=row["id"],
        operation_type=row["type"],
        product_label=label,
        direction=direction,
        amount=row["amount"],
        currency=row["currency"],
        created_at=row["created_at"],
        lot_id=row["lot_ref"] if is_vault else None,
    )
