"""The Prometheus collector of the release job: at each scrape it reads
vaults.selectors.release_metrics (PostgreSQL) and turns it into metric families.

Nothing is kept in the process: the command line, the Celery worker and the admin write
the same rows, so every gunicorn worker answers a scrape with the same numbers, whoever
ran the job. Timestamps are Unix seconds; "never" is 0, so `time() - x` is huge and the
age alerts fire. The registry holds this collector only: no per-process metrics (whose
values would depend on which worker answered).
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime

from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaults.selectors.release_metrics import FINISHED, ReleaseMetrics, release_metrics


def _ts(value: datetime | None) -> float:
    return value.timestamp() if value else 0.0


def _day(value: date | None) -> float:
    """A business day as a point in time: its midnight UTC (0: none)."""
    return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() if value else 0.0


def metric_families(metrics: ReleaseMetrics) -> list[Metric]:
    """The exported families, in the order of the README's table."""
    currency = ["currency"]
    last_finished = GaugeMetricFamily(
        "avenir_release_last_finished_timestamp_seconds",
        "End time of the newest release run that finished with this status (0: none).",
        labels=["currency", "status"],
    )
    covered = GaugeMetricFamily(
        "avenir_release_last_success_timestamp_seconds",
        "End time of the newest good full run (SUCCEEDED or COMPLETED_WITH_ERRORS, not an admin selection) "
        "whose as_of covers yesterday, UTC by the database's clock (0: no run covers yesterday).",
        labels=currency,
    )
    duration = GaugeMetricFamily(
        "avenir_release_last_run_duration_seconds",
        "Duration of the newest run that ended by itself (SUCCEEDED, COMPLETED_WITH_ERRORS or FAILED).",
        labels=currency,
    )
    lots = CounterMetricFamily(
        "avenir_release_lots_released",
        "Lots released, summed over every run (committed chunks of failed and abandoned runs included).",
        labels=currency,
    )
    amount = CounterMetricFamily(
        "avenir_release_amount_released",
        "Amount released, in the currency's units, summed over every run.",
        labels=currency,
    )
    overdue = GaugeMetricFamily(
        "avenir_release_overdue_lots",
        "VESTED lots whose release day is before today (UTC): matured and not released.",
        labels=currency,
    )
    overdue_amount = GaugeMetricFamily(
        "avenir_release_overdue_amount",
        "What the overdue lots still lock (amount - released_amount), in the currency's units.",
        labels=currency,
    )
    oldest = GaugeMetricFamily(
        "avenir_release_overdue_oldest_release_day_timestamp_seconds",
        "Midnight UTC of the oldest overdue lot's release day (0: no overdue lot).",
        labels=currency,
    )
    stuck = GaugeMetricFamily(
        "avenir_release_stuck_runs",
        "Runs RUNNING with a heartbeat older than the lease: dead, not yet taken over.",
        labels=currency,
    )
    abandoned = GaugeMetricFamily(
        "avenir_release_abandoned_runs",
        "Runs ABANDONED (their process died) since the newest good full run started.",
        labels=currency,
    )
    verified = GaugeMetricFamily(
        "avenir_ledger_verification_timestamp_seconds",
        "End time of the newest ledger verification (verify_ledger) that covered this currency (0: none).",
        labels=currency,
    )
    verified_ok = GaugeMetricFamily(
        "avenir_ledger_verification_ok",
        "1 when the newest ledger verification found every invariant holding, 0 when it found a violation "
        "(absent: never verified).",
        labels=currency,
    )
    violations = GaugeMetricFamily(
        "avenir_ledger_verification_violations",
        "Violations found by the newest ledger verification (absent: never verified).",
        labels=currency,
    )
    for m in metrics.currencies:
        ccy = [m.currency]
        for status in FINISHED:
            last_finished.add_metric([m.currency, status.value], _ts(m.last_finished[status.value]))
        covered.add_metric(ccy, _ts(m.yesterday_covered_at))
        duration.add_metric(ccy, m.last_run_seconds or 0.0)
        lots.add_metric(ccy, m.lots_released)
        amount.add_metric(ccy, float(m.amount_released))
        overdue.add_metric(ccy, m.overdue.count)
        overdue_amount.add_metric(ccy, float(m.overdue.amount))
        oldest.add_metric(ccy, _day(m.overdue.oldest_release_day))
        stuck.add_metric(ccy, m.stuck_runs)
        abandoned.add_metric(ccy, m.abandoned_runs)
        verification = m.verification
        verified.add_metric(ccy, _ts(verification.checked_at) if verification else 0.0)
        if verification:
            verified_ok.add_metric(ccy, 1.0 if verification.ok else 0.0)
            violations.add_metric(ccy, verification.violations)
    return [
        last_finished,
        covered,
        duration,
        lots,
        amount,
        overdue,
        overdue_amount,
        oldest,
        stuck,
        abandoned,
        verified,
        verified_ok,
        violations,
    ]


class ReleaseCollector(Collector):
    """Reads the database at each scrape; raises (DatabaseError) when it cannot."""

    def collect(self) -> Iterator[Metric]:
        yield from metric_families(release_metrics())


def build_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)  # no query at registration, only at scrape
    registry.register(ReleaseCollector())
    return registry


REGISTRY = build_registry()
