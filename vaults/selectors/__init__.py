"""Read paths of the vaults app. The lock audit (lock_audit) and the schedule health report
(schedule_health) are imported from their modules."""

from vaults.selectors.forecast import (
    FORECAST_DAYS,
    MAX_FORECAST_DAYS,
    CurrencyForecast,
    ForecastDay,
    OverdueBacklog,
    unlock_forecast,
)
from vaults.selectors.lots import (
    ALREADY_RELEASED,
    NOT_FOUND,
    NOT_MATURED,
    LotReadiness,
    get_vault,
    lots_release_readiness,
    pending_lots,
)

__all__ = [
    "ALREADY_RELEASED",
    "FORECAST_DAYS",
    "MAX_FORECAST_DAYS",
    "NOT_FOUND",
    "NOT_MATURED",
    "CurrencyForecast",
    "ForecastDay",
    "LotReadiness",
    "OverdueBacklog",
    "get_vault",
    "lots_release_readiness",
    "pending_lots",
    "unlock_forecast",
]
