"""What /metrics exports, read from PostgreSQL at scrape time: per currency of an AVENIR
vault, the runs, the overdue lots and the last ledger verification.

Every process (the command line, the Celery worker, the admin in gunicorn) writes the same
rows, so whichever gunicorn worker answers a scrape reports the same truth. Coverage,
overdue lots, abandoned and stuck runs come from vaults.selectors.runs, shared with
`avenir_schedule_status`. One REPEATABLE READ, READ ONLY snapshot, with a statement
timeout so a slow database never piles scrapes up, and no parallel workers.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Max, Q, Sum

from common.db import read_only_transaction
from vaults.models import AVENIR_CODE, LedgerVerificationRecord, RunStatus, Vault
from vaults.selectors.runs import (
    Overdue,
    abandoned_since_last_good,
    covering_runs,
    overdue_lots,
    runs_of,
    stuck_runs,
)
from vaults.services.release.clock import database_now

# The statuses a run ends with, each exported with the end time of its newest run.
FINISHED = (RunStatus.SUCCEEDED, RunStatus.COMPLETED_WITH_ERRORS, RunStatus.FAILED, RunStatus.ABANDONED)
# A run's duration is exported for the runs that ended by themselves (an ABANDONED run's
# end is when another run took it over).
TIMED = (RunStatus.SUCCEEDED, RunStatus.COMPLETED_WITH_ERRORS, RunStatus.FAILED)
SCRAPE_STATEMENT_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class VerificationFact:
    checked_at: datetime
    ok: bool
    violations: int


@dataclass(frozen=True)
class CurrencyReleaseMetrics:
    currency: str
    last_finished: dict[str, datetime | None]  # {status: end time of its newest run}, every FINISHED status
    yesterday_covered_at: datetime | None  # end time of the newest good full run covering yesterday
    last_run_seconds: float | None  # duration of the newest run that ended by itself
    lots_released: int  # over all runs, also the ones that failed or were abandoned
    amount_released: Decimal
    overdue: Overdue
    stuck_runs: int
    abandoned_runs: int  # since the last good run
    verification: VerificationFact | None  # the newest verify_ledger that covered this currency


@dataclass(frozen=True)
class ReleaseMetrics:
    checked_at: datetime  # the database's clock
    currencies: tuple[CurrencyReleaseMetrics, ...]


def release_metrics(*, now: datetime | None = None) -> ReleaseMetrics:
    """The metrics of every AVENIR vault, in one consistent snapshot."""
    with read_only_transaction():
        with connection.cursor() as cursor:
            # Bounded, and serial: every query reads a few rows through an index, where starting
            # parallel workers would cost more than the whole scrape.
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true),"
                " set_config('max_parallel_workers_per_gather', '0', true)",
                [str(SCRAPE_STATEMENT_TIMEOUT_MS)],
            )
        now = (now or database_now()).astimezone(UTC)
        currencies = Vault.objects.filter(code=AVENIR_CODE).order_by("currency").values_list("currency", flat=True)
        return ReleaseMetrics(
            checked_at=now, currencies=tuple(_currency_metrics(currency, now) for currency in currencies)
        )


def _currency_metrics(currency: str, now: datetime) -> CurrencyReleaseMetrics:
    today = now.date()
    runs = runs_of(currency=currency)
    totals = runs.aggregate(
        lots=Sum("executed_count"),
        amount=Sum("executed_amount"),
        **{status.value: Max("finished_at", filter=Q(status=status)) for status in FINISHED},
    )
    last_timed = runs.filter(status__in=TIMED, finished_at__isnull=False).order_by("-finished_at").first()
    covered = covering_runs(currency=currency, day=today - timedelta(days=1)).aggregate(at=Max("finished_at"))
    return CurrencyReleaseMetrics(
        currency=currency,
        last_finished={status.value: totals[status.value] for status in FINISHED},
        yesterday_covered_at=covered["at"],
        last_run_seconds=last_timed.duration_seconds if last_timed else None,
        lots_released=totals["lots"] or 0,
        amount_released=totals["amount"] or Decimal(0),
        overdue=overdue_lots(currency=currency, today=today),
        stuck_runs=stuck_runs(currency=currency, now=now).count(),
        abandoned_runs=abandoned_since_last_good(currency=currency).count(),
        verification=last_verification(currency=currency),
    )


def last_verification(*, currency: str) -> VerificationFact | None:
    """The newest verification of this currency, or of every currency ("")."""
    record = (
        LedgerVerificationRecord.objects.filter(currency__in=(currency, ""))
        .order_by("-checked_at", "-id")
        .values_list("checked_at", "ok", "violations")
        .first()
    )
    return VerificationFact(*record) if record else None
