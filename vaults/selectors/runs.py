"""The facts about the daily release that every monitoring surface reads: which runs cover a
day, the overdue lots, the runs abandoned since the last good run, the runs stuck past
their lease. `avenir_schedule_status` (schedule_health) and `/metrics` (release_metrics)
both call these, so they can never disagree on what "covered" or "overdue" means.

All are per currency, read only, and cheap whatever the history: the run table has a row
per run (a few a day), and the overdue lots are one index range of (vault, currency,
release_day), so their cost follows the backlog, not the released history.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Min, Q, QuerySet, Subquery, Sum

from ledger.currencies import format_amount
from vaults.models import AVENIR_CODE, GOOD_RUN_STATUSES, LotStatus, ReleaseRun, RunStatus, Vault, VestingLot


@dataclass(frozen=True)
class Overdue:
    """VESTED lots whose release day is before today: matured, and still not released."""

    count: int
    amount: Decimal  # what they still lock: amount - released_amount
    oldest_release_day: date | None

    def to_json(self, currency: str) -> dict[str, Any]:
        return {
            "count": self.count,
            "amount": format_amount(self.amount, currency),
            "oldest_release_day": self.oldest_release_day.isoformat() if self.oldest_release_day else None,
        }


def runs_of(*, currency: str) -> QuerySet[ReleaseRun]:
    return ReleaseRun.objects.filter(currency=currency)


def good_full_runs(*, currency: str) -> QuerySet[ReleaseRun]:
    """Finished runs of the whole day (not an admin selection of lots) that released it."""
    return runs_of(currency=currency).filter(selected_lots_count__isnull=True, status__in=GOOD_RUN_STATUSES)


def covering_runs(*, currency: str, day: date) -> QuerySet[ReleaseRun]:
    """The good full runs that cover `day`: a run for as_of releases every lot due on or
    before as_of, so any as_of >= day covers it (a run for today covers yesterday)."""
    return good_full_runs(currency=currency).filter(as_of__gte=day)


def last_good_run(*, currency: str) -> ReleaseRun | None:
    """The good full run with the latest as_of (the furthest day released)."""
    return good_full_runs(currency=currency).order_by("-as_of", "-started_at").first()


def overdue_lots(*, currency: str, today: date) -> Overdue:
    """An index range scan whose cost follows the backlog, not the history.

    The vault id is a scalar subquery (a value when the plan starts), so the scan is one range
    of (vault, currency, release_day). A join to vaults instead lets the planner multiply the
    selectivities of "VESTED" and "release_day < today" as if independent (on a long history it
    then expects 100,000s of rows, not the few overdue ones) and start parallel workers."""
    vault = Vault.objects.filter(code=AVENIR_CODE, currency=currency).values("id")[:1]
    row = VestingLot.objects.filter(
        vault_id=Subquery(vault), currency=currency, status=LotStatus.VESTED, release_day__lt=today
    ).aggregate(count=Count("id"), amount=Sum(F("amount") - F("released_amount")), oldest=Min("release_day"))
    return Overdue(count=row["count"], amount=row["amount"] or Decimal(0), oldest_release_day=row["oldest"])


def abandoned_since_last_good(*, currency: str) -> QuerySet[ReleaseRun]:
    """Runs ABANDONED (their process died) that started after the newest good full run
    started: what a good run has since covered no longer needs anyone's attention."""
    runs = runs_of(currency=currency)
    abandoned = runs.filter(status=RunStatus.ABANDONED)
    last = good_full_runs(currency=currency).order_by("-started_at").values_list("started_at", flat=True).first()
    return abandoned if last is None else abandoned.filter(started_at__gt=last)


def stuck_runs(*, currency: str, now: datetime) -> QuerySet[ReleaseRun]:
    """RUNNING rows whose heartbeat is older than the lease: their process is dead and no
    run has taken over yet (the next one marks them ABANDONED)."""
    cutoff = now - timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS)
    return runs_of(currency=currency).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff), status=RunStatus.RUNNING
    )
