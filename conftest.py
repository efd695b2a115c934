"""Fixtures shared by every app's tests. The suite runs on PostgreSQL: DATABASE_URL, else the
embedded server of the checkout (scripts/test.sh starts a throwaway one per run)."""

import pytest
from django.conf import settings

from vaults.models import AVENIR_CODE, Vault


@pytest.fixture
def avenir(db) -> Vault:
    """The AVENIR AED vault. Created by a data migration, but transactional tests
    truncate every table, so it is (re)created here."""
    vault, _ = Vault.objects.get_or_create(
        code=AVENIR_CODE,
        currency="AED",
        defaults={"product_label": "COFFRE AVENIR", "vesting_days": settings.AVENIR_VESTING_DAYS},
    )
    return vault
