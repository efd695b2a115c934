"""Fixtures shared by every app's tests. The suite runs on PostgreSQL (scripts/test.sh)."""

import pytest
from django.conf import settings
from django.db import connection

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


@pytest.fixture(autouse=True)
def _require_postgres(request):
    """SQLite hides row locks, SKIP LOCKED and the ledger triggers: refuse to run on it."""
    if request.node.get_closest_marker("django_db") and connection.vendor != "postgresql":
        pytest.fail("the test suite runs on PostgreSQL: use scripts/test.sh (DATABASE_URL=postgres://...)")
