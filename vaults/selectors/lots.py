"""Reads of vaults and lots: the vault of a currency, the lots a release selects, whether
an operator's selection can be released (the confirmation page's preview), and a lot's
history of releases and reversals."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.db.models import F

from ledger.currencies import check_currency
from ledger.models import Operation
from vaults.exceptions import VaultNotFound
from vaults.keys import release_idempotency_key, reversal_idempotency_key
from vaults.models import AVENIR_CODE, LotStatus, Vault, VestingLot


def get_vault(*, code: str = AVENIR_CODE, currency: str) -> Vault:
    check_currency(currency)
    try:
        return Vault.objects.get(code=code, currency=currency)
    except Vault.DoesNotExist:
        raise VaultNotFound(f"no {code} vault in {currency}") from None


def pending_lots(*, vault: Vault, as_of: date, lot_ids: Iterable[int] | None = None):
    """Matured lots not yet released: the release job's selection (uses the partial index)."""
    qs = VestingLot.objects.filter(
        vault=vault,
        currency=vault.currency,
        status=LotStatus.VESTED,
        release_day__lte=as_of,
        released_amount__lt=F("amount"),  # the runbook skips a lot with nothing left to release
    )
    if lot_ids is not None:
        qs = qs.filter(pk__in=list(lot_ids))
    return qs


ALREADY_RELEASED = "already released"
NOT_MATURED = "not matured"
NOT_FOUND = "not found"


@dataclass(frozen=True)
class LotReadiness:
    """Whether a lot the operator selected can be released on `as_of`, and if not, why."""

    lot_id: int
    currency: str | None  # None: not found
    release_day: date | None
    reason: str | None = None  # None: releasable; else ALREADY_RELEASED, NOT_MATURED or NOT_FOUND

    @property
    def releasable(self) -> bool:
        return self.reason is None


def lots_release_readiness(*, lot_ids: Iterable[int], as_of: date) -> tuple[LotReadiness, ...]:
    """The release's own rules, read only, for a selection: a lot that does not exist is not
    found, a RELEASED lot (or one with nothing left) is already released, a lot whose release
    day is after `as_of` is not matured; the others are releasable. In lot id order."""
    wanted = sorted(set(lot_ids))
    lots = {
        pk: (currency, status, release_day, amount, released)
        for pk, currency, status, release_day, amount, released in VestingLot.objects.filter(pk__in=wanted).values_list(
            "pk", "currency", "status", "release_day", "amount", "released_amount"
        )
    }
    result = []
    for pk in wanted:
        if pk not in lots:
            result.append(LotReadiness(pk, None, None, NOT_FOUND))
            continue
        currency, status, release_day, amount, released = lots[pk]
        if status == LotStatus.RELEASED or released >= amount:
            reason = ALREADY_RELEASED
        elif release_day > as_of:
            reason = NOT_MATURED
        else:
            reason = None
        result.append(LotReadiness(pk, currency, release_day, reason))
    return tuple(result)


@dataclass(frozen=True)
class LotRelease:
    """One release of a lot, and the reversal that took it back (if any)."""

    number: int  # 1 for the first release; n + 1 after n reversals
    release_id: UUID
    released_at: datetime
    amount: Decimal
    reversal_id: UUID | None = None
    reversed_at: datetime | None = None
    reason: str = ""


def lot_release_history(*, lot: VestingLot) -> tuple[LotRelease, ...]:
    """Every release of the lot, oldest first, each with its reversal: two lookups by their
    unique idempotency keys (a lot has at most reversal_count + 1 releases)."""
    keys = [release_idempotency_key(lot.pk, n) for n in range(lot.reversal_count + 1)]
    fields = ("id", "idempotency_key", "created_at", "amount", "operation_metadata")
    releases = {op.idempotency_key: op for op in Operation.objects.filter(idempotency_key__in=keys).only(*fields)}
    reversals = {
        op.idempotency_key: op
        for op in Operation.objects.filter(
            idempotency_key__in=[reversal_idempotency_key(op.pk) for op in releases.values()]
        ).only(*fields)
    }
    history = []
    for number, key in enumerate(keys, start=1):
        release = releases.get(key)
        if release is None:
            break
        reversal = reversals.get(reversal_idempotency_key(release.pk))
        history.append(
            LotRelease(
                number=number,
                release_id=release.pk,
                released_at=release.created_at,
                amount=release.amount,
                reversal_id=reversal.pk if reversal else None,
                reversed_at=reversal.created_at if reversal else None,
                reason=(reversal.operation_metadata or {}).get("reason", "") if reversal else "",
            )
        )
    return tuple(history)
