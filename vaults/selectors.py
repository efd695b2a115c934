"""Read paths of the vaults app."""

from collections.abc import Iterable
from datetime import date

from django.db.models import Count, F, Sum

from ledger.currencies import check_currency
from ledger.db import fetch_rows
from ledger.selectors import Violation, ledger_violations
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


def unlock_forecast(*, vault_code: str = AVENIR_CODE, limit: int = 5) -> list[dict]:
    """The runbook's "next run" query: the next release days with lot count and remaining amount."""
    rows = (
        VestingLot.objects.filter(vault_code=vault_code, status=LotStatus.VESTED)
        .values("currency", "release_day")
        .annotate(
            lot_count=Count("id"),
            total_remaining=Sum("amount") - Sum("released_amount"),
        )
        .order_by("release_day", "currency")[:limit]
    )
    return list(rows)


def vault_violations() -> list[Violation]:
    """Invariants 3 and 4 of DESIGN.md, set-based."""
    # 3. Per (user, currency): locked balance == sum of ACTIVE locks == remaining of unreleased lots.
    found = [
        Violation(
            3,
            f"user {user_id} {currency}: locked balance {locked}, active locks {locks}, unreleased lots {lots}",
        )
        for user_id, currency, locked, locks, lots in fetch_rows(
            """
            SELECT user_id, currency, SUM(locked), SUM(locks), SUM(lots) FROM (
                SELECT owner_id AS user_id, currency, balance AS locked, 0 AS locks, 0 AS lots
                  FROM ledger_accounts WHERE kind = 'WALLET_LOCKED'
                UNION ALL
                SELECT user_id, currency, 0, amount, 0 FROM wallet_locks WHERE status = 'ACTIVE'
                UNION ALL
                SELECT user_id, currency, 0, 0, amount - released_amount
                  FROM vault_vesting_lots WHERE status <> 'RELEASED'
            ) t GROUP BY user_id, currency
            HAVING SUM(locked) <> SUM(locks) OR SUM(locked) <> SUM(lots)
            """
        )
    ]
    # 4. At most one release operation per lot; a released lot is fully released.
    found += [
        Violation(4, f"lot {lot_id} has {n} release operations")
        for lot_id, n in fetch_rows(
            "SELECT CAST(operation_metadata ->> 'lot_id' AS bigint), COUNT(*) FROM operations "
            "WHERE type = 'VAULT_VESTING_RELEASE' GROUP BY operation_metadata ->> 'lot_id' HAVING COUNT(*) > 1"
        )
    ]
    found += [
        Violation(4, f"lot {lot_id} is RELEASED with released_amount {released} of {amount}")
        for lot_id, released, amount in fetch_rows(
            "SELECT id, released_amount, amount FROM vault_vesting_lots "
            "WHERE status = 'RELEASED' AND released_amount <> amount"
        )
    ]
    return found


def check_invariants() -> list[Violation]:
    """Every data invariant of DESIGN.md (1-4); invariant 5 (dry runs write nothing) is a test."""
    return ledger_violations() + vault_violations()
