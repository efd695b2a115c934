"""factory-boy factories for the vaults app: deposits go through the real services."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import factory

from ledger.services.funding import fund_wallet
from ledger.tests.factories import UserFactory
from vaults.models import ReleaseRun, ReleaseTrigger, RunStatus
from vaults.selectors import get_vault
from vaults.services.deposit import DepositResult, deposit_to_vault


def at_day(day: date, seconds: int = 0) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=UTC) + timedelta(seconds=seconds)


class DepositFactory(factory.Factory):
    """A funded user's AVENIR deposit (VAULT_DEPOSIT + wallet lock + vesting lot).

    `release_day` sets the maturity; the deposit day is derived from the vesting period.
    """

    class Meta:
        model = DepositResult

    user = factory.SubFactory(UserFactory)
    currency = "AED"
    amount = Decimal("10000.00")
    release_day = factory.LazyFunction(lambda: datetime.now(UTC).date())
    fund = True
    idempotency_key = factory.Sequence(lambda n: f"test-deposit-{n}")
    seconds = 0

    @classmethod
    def _create(cls, model_class, *, user, currency, amount, release_day, fund, idempotency_key, seconds):
        vault = get_vault(currency=currency)
        at = at_day(release_day - timedelta(days=vault.vesting_days), seconds)
        if fund:
            fund_wallet(
                user_id=user.pk, currency=currency, amount=amount, idempotency_key=f"fund-{idempotency_key}", at=at
            )
        return deposit_to_vault(user_id=user.pk, vault=vault, amount=amount, idempotency_key=idempotency_key, at=at)


class ReleaseRunFactory(factory.django.DjangoModelFactory):
    """A run row as another process left it: RUNNING with a fresh heartbeat by default
    (a live run holding the lease); pass an old `heartbeat_at` for a dead one."""

    class Meta:
        model = ReleaseRun

    trace_id = factory.Sequence(lambda n: f"job-avenir-vesting-test-{n}")
    vault = factory.LazyFunction(lambda: get_vault(currency="AED"))
    currency = factory.SelfAttribute("vault.currency")
    as_of = factory.LazyFunction(lambda: datetime.now(UTC).date())
    trigger = ReleaseTrigger.SCHEDULE
    actor = "celery:elsewhere"
    started_at = factory.LazyFunction(lambda: datetime.now(UTC))
    heartbeat_at = factory.SelfAttribute("started_at")
    status = RunStatus.RUNNING
