"""factory-boy factories for the ledger. Money only ever moves through the services."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from ledger.services.funding import FundingResult, fund_wallet


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.LazyFunction(lambda: make_password(None))


class FundingFactory(factory.Factory):
    """Credits a user's available wallet through fund_wallet."""

    class Meta:
        model = FundingResult

    user = factory.SubFactory(UserFactory)
    currency = "AED"
    amount = Decimal("10000.00")
    idempotency_key = factory.Sequence(lambda n: f"test-funding-{n}")

    @classmethod
    def _create(cls, model_class, *, user, **kwargs):
        return fund_wallet(user_id=user.pk, **kwargs)
