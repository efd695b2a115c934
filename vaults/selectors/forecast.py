"""The unlock forecast: per currency, the overdue backlog and the next release days."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from common.db import fetch_rows
from vaults.models import AVENIR_CODE

_SQL = Path(__file__).with_name("sql")
FORECAST_DAYS = 7
MAX_FORECAST_DAYS = 366


@dataclass(frozen=True)
class ForecastDay:
    release_day: date
    lot_count: int
    amount: Decimal  # what the lots of the day still hold (amount - released_amount)


@dataclass(frozen=True)
class OverdueBacklog:
    """VESTED lots whose release day is before today: matured, not yet released."""

    lot_count: int
    amount: Decimal
    oldest_day: date | None


@dataclass(frozen=True)
class CurrencyForecast:
    currency: str
    today: date
    overdue: OverdueBacklog
    upcoming: tuple[ForecastDay, ...]  # the next release days from today on, at most `days`


@cache
def _forecast_sql() -> str:
    return (_SQL / "unlock_forecast.sql").read_text()


def unlock_forecast(
    *, days: int = FORECAST_DAYS, today: date | None = None, vault_code: str = AVENIR_CODE
) -> tuple[CurrencyForecast, ...]:
    """Per currency (every vault of `vault_code`, sorted): the overdue backlog and the next
    `days` release days with their lot count and amount. `today` defaults to the database's
    UTC date (the business date)."""
    if not 1 <= days <= MAX_FORECAST_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_FORECAST_DAYS}")
    rows = fetch_rows(_forecast_sql(), {"vault_code": vault_code, "today": today, "days": days})
    overdue: dict[str, OverdueBacklog] = {}
    upcoming: dict[str, list[ForecastDay]] = {}
    todays: dict[str, date] = {}
    for currency, day0, part, release_day, lot_count, amount in rows:
        todays[currency] = day0
        if part == "overdue":
            overdue[currency] = OverdueBacklog(lot_count=lot_count, amount=amount, oldest_day=release_day)
        else:
            upcoming.setdefault(currency, []).append(ForecastDay(release_day, lot_count, amount))
    return tuple(
        CurrencyForecast(
            currency=currency,
            today=todays[currency],
            overdue=overdue[currency],
            upcoming=tuple(upcoming.get(currency, ())),
        )
        for currency in sorted(todays)
    )
