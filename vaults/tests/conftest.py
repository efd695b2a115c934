"""Fixtures of the vaults tests."""

import pytest

from vaults.services.release import utc_today
from vaults.tests.support.production import web  # noqa: F401 - gunicorn with DEBUG off, shared by the production tests


@pytest.fixture
def today():
    """The business date: PostgreSQL's UTC date."""
    return utc_today()
