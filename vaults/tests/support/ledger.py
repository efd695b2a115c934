"""Money moved behind the release job's back, as an operator or another product would."""

from decimal import Decimal

from ledger.models import OperationType
from ledger.services.accounts import ensure_wallet_accounts
from ledger.services.posting import Leg, OperationSpec, post_operations


def unlock(user, amount: str, key: str, op_type=OperationType.ADJUSTMENT) -> None:
    """Move money from the user's locked to available wallet outside the release job."""
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    a = Decimal(amount)
    post_operations(
        specs=[
            OperationSpec(
                type=op_type,
                user_id=user.pk,
                currency="AED",
                amount=a,
                idempotency_key=key,
                legs=(Leg(wallets.locked_id, -a), Leg(wallets.available_id, a)),
            )
        ]
    )
