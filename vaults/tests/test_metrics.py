"""/metrics: what the collector reads from PostgreSQL at scrape time, per currency, and that
it agrees with `avenir_schedule_status` on every fact they share (one selector behind both)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from vaults.models import LedgerVerificationRecord, ReleaseRun, ReleaseTrigger, RunStatus, Vault
from vaults.selectors.schedule_health import schedule_health
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory, ReleaseRunFactory
from vaults.tests.support.metrics import METRICS_TOKEN, families, parse_metrics, sample

pytestmark = [pytest.mark.django_db, pytest.mark.pooler]  # the scrape's snapshot and SET LOCAL, also through PgBouncer

STATUSES = ("SUCCEEDED", "COMPLETED_WITH_ERRORS", "FAILED", "ABANDONED")


def scrape(client) -> str:
    with override_settings(METRICS_BEARER_TOKEN=METRICS_TOKEN):
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def finished_run(**fields) -> ReleaseRun:
    run = ReleaseRunFactory(**{"heartbeat_at": fields.get("finished_at"), **fields})
    return run


def test_an_empty_history_exports_every_series_with_never_as_zero(client, avenir):
    text = scrape(client)
    samples = parse_metrics(text)
    for status in STATUSES:
        assert sample(samples, "avenir_release_last_finished_timestamp_seconds", currency="AED", status=status) == 0
    for name in (
        "avenir_release_last_success_timestamp_seconds",
        "avenir_release_last_run_duration_seconds",
        "avenir_release_lots_released_total",
        "avenir_release_amount_released_total",
        "avenir_release_overdue_lots",
        "avenir_release_overdue_amount",
        "avenir_release_overdue_oldest_release_day_timestamp_seconds",
        "avenir_release_stuck_runs",
        "avenir_release_abandoned_runs",
        "avenir_ledger_verification_timestamp_seconds",
    ):
        assert sample(samples, name, currency="AED") == 0, name
    # Never verified: no result to alert on (the age alert fires instead).
    assert not any(name.startswith("avenir_ledger_verification_ok") for name, _ in samples)
    types = families(text)
    assert types["avenir_release_lots_released"] == "counter"
    assert types["avenir_release_amount_released"] == "counter"
    assert types["avenir_release_overdue_lots"] == "gauge"


def test_each_metric_per_currency(client, avenir, settings):
    now = timezone.now()
    today = utc_today()
    eur = Vault.objects.create(code="AVENIR", currency="EUR", product_label="COFFRE AVENIR", vesting_days=365)
    # Overdue: two AED lots matured on earlier days; one due today is not overdue.
    DepositFactory(release_day=today - timedelta(days=3), amount=Decimal("2500.50"))
    DepositFactory(release_day=today - timedelta(days=1), amount=Decimal("10000.00"))
    DepositFactory(release_day=today)
    t = now - timedelta(hours=6)
    good = finished_run(
        as_of=today - timedelta(days=1),
        started_at=t,
        finished_at=t + timedelta(seconds=42),
        status=RunStatus.SUCCEEDED,
        executed_count=10,
        executed_amount=Decimal("100000.00"),
    )
    with_errors = finished_run(  # an admin selection: never the one that covers a day
        as_of=today,
        started_at=t + timedelta(hours=1),
        finished_at=t + timedelta(hours=1, seconds=5),
        status=RunStatus.COMPLETED_WITH_ERRORS,
        selected_lots_count=3,
        executed_count=2,
        executed_amount=Decimal("0.50"),
        errors_count=1,
    )
    failed = finished_run(
        as_of=today,
        started_at=t + timedelta(hours=2),
        finished_at=t + timedelta(hours=2, seconds=7.5),
        status=RunStatus.FAILED,
        executed_count=1,
        executed_amount=Decimal("1.00"),
    )
    abandoned = finished_run(
        as_of=today - timedelta(days=5),
        started_at=t + timedelta(hours=3),
        finished_at=t + timedelta(hours=3, minutes=20),
        status=RunStatus.ABANDONED,
        executed_count=4,
        executed_amount=Decimal("4.00"),
    )
    finished_run(  # abandoned before the good run started: a good run has covered it since
        as_of=today - timedelta(days=6),
        started_at=t - timedelta(days=1),
        finished_at=t - timedelta(days=1) + timedelta(minutes=20),
        status=RunStatus.ABANDONED,
    )
    stale = now - timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS + 60)
    ReleaseRunFactory(as_of=today - timedelta(days=7), started_at=stale, heartbeat_at=stale)  # stuck
    ReleaseRunFactory(as_of=today - timedelta(days=8), executed_count=3, executed_amount=Decimal("3.00"))  # alive
    # Verifications: one of every currency, then a failing one of AED only.
    everything = LedgerVerificationRecord.objects.create(ok=True, violations=0, seconds=1.5, trigger="cli")
    aed = LedgerVerificationRecord.objects.create(
        currency="AED", ok=False, violations=3, failed_checks=["account_balances"], seconds=1.2, trigger="cli"
    )
    everything.refresh_from_db()
    aed.refresh_from_db()

    samples = parse_metrics(scrape(client))

    def aed_value(name: str, **labels: str) -> float:
        return sample(samples, name, currency="AED", **labels)

    last = {status: aed_value("avenir_release_last_finished_timestamp_seconds", status=status) for status in STATUSES}
    assert last == {
        "SUCCEEDED": good.finished_at.timestamp(),
        "COMPLETED_WITH_ERRORS": with_errors.finished_at.timestamp(),
        "FAILED": failed.finished_at.timestamp(),
        "ABANDONED": abandoned.finished_at.timestamp(),
    }
    assert aed_value("avenir_release_last_success_timestamp_seconds") == good.finished_at.timestamp()
    assert aed_value("avenir_release_last_run_duration_seconds") == pytest.approx(7.5)  # the FAILED one, newest
    assert aed_value("avenir_release_lots_released_total") == 10 + 2 + 1 + 4 + 3
    assert aed_value("avenir_release_amount_released_total") == pytest.approx(100008.50)
    assert aed_value("avenir_release_overdue_lots") == 2
    assert aed_value("avenir_release_overdue_amount") == pytest.approx(12500.50)
    oldest = datetime.combine(today - timedelta(days=3), datetime.min.time(), tzinfo=UTC).timestamp()
    assert aed_value("avenir_release_overdue_oldest_release_day_timestamp_seconds") == oldest
    assert aed_value("avenir_release_stuck_runs") == 1
    assert aed_value("avenir_release_abandoned_runs") == 1
    assert aed_value("avenir_ledger_verification_timestamp_seconds") == aed.checked_at.timestamp()
    assert aed_value("avenir_ledger_verification_ok") == 0
    assert aed_value("avenir_ledger_verification_violations") == 3

    # EUR has its own series: no run, nothing overdue, verified by the all-currency check.
    assert sample(samples, "avenir_release_last_success_timestamp_seconds", currency=eur.currency) == 0
    assert sample(samples, "avenir_release_overdue_lots", currency="EUR") == 0
    assert sample(samples, "avenir_ledger_verification_ok", currency="EUR") == 1
    assert sample(samples, "avenir_ledger_verification_timestamp_seconds", currency="EUR") == (
        everything.checked_at.timestamp()
    )

    # The same facts as avenir_schedule_status, from the same selectors.
    health = schedule_health()
    assert health.overdue.count == aed_value("avenir_release_overdue_lots")
    assert float(health.overdue.amount) == aed_value("avenir_release_overdue_amount")
    assert len(health.stuck_runs) == aed_value("avenir_release_stuck_runs")
    assert len(health.abandoned_runs) == aed_value("avenir_release_abandoned_runs")
    assert health.covered == (aed_value("avenir_release_last_success_timestamp_seconds") > 0)


def test_a_real_run_is_the_last_success_and_clears_the_overdue_lots(client, avenir):
    today = utc_today()
    DepositFactory(release_day=today - timedelta(days=2))
    DepositFactory(release_day=today)
    before = parse_metrics(scrape(client))
    assert sample(before, "avenir_release_overdue_lots", currency="AED") == 1
    assert sample(before, "avenir_release_last_success_timestamp_seconds", currency="AED") == 0

    summary = release_matured_lots(trigger=ReleaseTrigger.CLI, actor="test")
    run = ReleaseRun.objects.get(trace_id=summary.trace_id)
    after = parse_metrics(scrape(client))
    assert sample(after, "avenir_release_last_success_timestamp_seconds", currency="AED") == run.finished_at.timestamp()
    assert sample(after, "avenir_release_last_finished_timestamp_seconds", currency="AED", status="SUCCEEDED") == (
        run.finished_at.timestamp()
    )
    assert sample(after, "avenir_release_overdue_lots", currency="AED") == 0
    assert sample(after, "avenir_release_lots_released_total", currency="AED") == 2
    assert sample(after, "avenir_release_amount_released_total", currency="AED") == 20000.0
    assert sample(after, "avenir_release_last_run_duration_seconds", currency="AED") == pytest.approx(
        run.duration_seconds
    )


def test_a_run_of_an_older_day_does_not_cover_yesterday(client, avenir):
    today = utc_today()
    DepositFactory(release_day=today - timedelta(days=2))
    release_matured_lots(as_of=today - timedelta(days=2), trigger=ReleaseTrigger.CLI)
    samples = parse_metrics(scrape(client))
    assert sample(samples, "avenir_release_last_success_timestamp_seconds", currency="AED") == 0
    assert sample(samples, "avenir_release_last_finished_timestamp_seconds", currency="AED", status="SUCCEEDED") > 0
    assert schedule_health().covered is False


def test_verify_ledger_records_its_result_for_the_scrape(client, avenir):
    call_command("verify_ledger", "--currency", "AED", stdout=None)
    record = LedgerVerificationRecord.objects.get()
    samples = parse_metrics(scrape(client))
    assert sample(samples, "avenir_ledger_verification_ok", currency="AED") == 1
    assert sample(samples, "avenir_ledger_verification_timestamp_seconds", currency="AED") == (
        record.checked_at.timestamp()
    )
