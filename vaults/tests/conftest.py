"""Fixtures of the vaults tests."""

import pytest

from vaults.services.release import utc_today
from vaults.tests.support.production import web  # noqa: F401 - gunicorn with DEBUG off, shared by the production tests


@pytest.fixture
def today():
    """The business date: PostgreSQL's UTC date."""
    return utc_today()


def pytest_terminal_summary(terminalreporter) -> None:
    """The chaos suite's table: one row per fault (vaults/tests/test_chaos.py)."""
    from vaults.tests.support.chaos import REPORT, report_table

    if REPORT:
        terminalreporter.write_sep("=", "chaos: the day finishes by itself")
        terminalreporter.write_line(report_table(REPORT))
