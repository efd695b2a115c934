"""Reads of vaults and lots: the vault of a currency, the lots a release selects, and whether
an operator's selection can be released (the confirmation page's preview)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import F

from ledger.currencies import check_currency
from vaults.exceptions import VaultNotFound
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
