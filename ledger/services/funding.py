from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db import transaction

from ledger.currencies import parse_amount
from ledger.models import OperationType
from ledger.services.accounts import ensure_system_account, ensure_wallet_accounts
from ledger.services.posting import Leg, OperationSpec, post_operation


@dataclass(frozen=True)
class FundingResult:
    operation_id: UUID
    created: bool


@transaction.atomic
def fund_wallet(
    *,
    user_id: int,
    currency: str,
    amount: Decimal | str,
    idempotency_key: str,
    at: datetime | None = None,
) -> FundingResult:
    """Credit a user's available wallet from the system's external funding account."""
    amount = parse_amount(amount, currency)
    wallets = ensure_wallet_accounts(user_id=user_id, currency=currency)
    funding_id = ensure_system_account(currency=currency)
    spec = OperationSpec(
        type=OperationType.FUNDING,
        user_id=user_id,
        currency=currency,
        amount=amount,
        idempotency_key=idempotency_key,
        legs=(Leg(funding_id, -amount), Leg(wallets.available_id, amount)),
    )
    operation, created = post_operation(spec=spec, at=at)
    return FundingResult(operation_id=operation.pk, created=created)
