"""The business date comes from PostgreSQL's clock, not the app server's.

A worker whose clock is a few minutes slow at 00:05 UTC would release "yesterday" and
leave today's lots for a day; a fast one near midnight would let a future as_of pass
the "never before maturity" check. Every app server reads the same database clock.
"""

from datetime import UTC, date, datetime

import structlog
from django.conf import settings
from django.db import connection

log = structlog.get_logger("vaults.release")


def database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def utc_today() -> date:
    """Today's UTC date by the database's clock: the business date."""
    return database_now().astimezone(UTC).date()


def checked_utc_today() -> date:
    """utc_today(), with a warning in the log when the app's clock differs from the
    database's by more than AVENIR_CLOCK_SKEW_WARNING_SECONDS (fix the host's NTP)."""
    app_now = datetime.now(UTC)
    db_now = database_now()
    skew = (app_now - db_now).total_seconds()
    if abs(skew) > settings.AVENIR_CLOCK_SKEW_WARNING_SECONDS:
        log.warning(
            "app clock and database clock differ; the database's date is used",
            skew_seconds=round(skew, 3),
            app_now=app_now.isoformat(),
            database_now=db_now.astimezone(UTC).isoformat(),
        )
    return db_now.astimezone(UTC).date()
