from dataclasses import dataclass

from ledger.currencies import check_currency
from ledger.models import Account, AccountKind


@dataclass(frozen=True)
class WalletAccounts:
    available_id: int
    locked_id: int


def ensure_wallet_accounts(*, user_id: int, currency: str) -> WalletAccounts:
    """The user's available and locked wallets in a currency, created when missing."""
    check_currency(currency)
    ids = {}
    for kind in (AccountKind.WALLET_AVAILABLE, AccountKind.WALLET_LOCKED):
        account, _ = Account.objects.get_or_create(owner_id=user_id, currency=currency, kind=kind)
        ids[kind] = account.pk
    return WalletAccounts(
        available_id=ids[AccountKind.WALLET_AVAILABLE],
        locked_id=ids[AccountKind.WALLET_LOCKED],
    )


def ensure_system_account(*, currency: str, kind: str = AccountKind.SYSTEM_FUNDING) -> int:
    check_currency(currency)
    account, _ = Account.objects.get_or_create(owner=None, currency=currency, kind=kind)
    return account.pk
