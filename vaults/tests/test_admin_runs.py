"""Run history, unlock forecast, lots search and the no-COUNT(*) paginator in the admin."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.admin import EstimatedCountPaginator
from ledger.models import Operation
from vaults.admin import ReleaseRunAdmin
from vaults.models import AVENIR_CODE, ReleaseRun, ReleaseTrigger, RunStatus, Vault, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_run_history_is_read_only_and_links_to_exactly_its_operations(admin_client, avenir):
    today = utc_today()
    first = [DepositFactory(release_day=today - timedelta(days=1)) for _ in range(2)]
    release_matured_lots(currency="AED", as_of=today - timedelta(days=1), trigger=ReleaseTrigger.CLI, actor="cli:a")
    DepositFactory(release_day=today)
    release_matured_lots(currency="AED", trigger=ReleaseTrigger.ADMIN, actor="bob")
    run = ReleaseRun.objects.get(as_of=today - timedelta(days=1))

    response = admin_client.get("/admin/vaults/releaserun/")
    assert response.status_code == 200
    html = response.content.decode()
    assert run.trace_id in html and "cli:a" in html and "bob" in html
    filters = [spec.title for spec in response.context["cl"].filter_specs]
    assert {"trigger", "status", "started at"} <= set(filters)
    assert admin_client.get("/admin/vaults/releaserun/?trigger__exact=admin").context["cl"].result_count == 1

    href = re.search(r'href="([^"]+)"', ReleaseRunAdmin(ReleaseRun, None).operations_link(run)).group(1)
    ops = admin_client.get(href.replace("&amp;", "&"))
    assert ops.status_code == 200
    listed = {op.pk for op in ops.context["cl"].result_list}
    expected = {VestingLot.objects.get(pk=d.lot_id).last_release_operation_id for d in first}
    assert listed == expected
    assert all(Operation.objects.get(pk=pk).operation_metadata["trace_id"] == run.trace_id for pk in listed)

    assert admin_client.get("/admin/vaults/releaserun/add/").status_code == 403
    assert admin_client.post(f"/admin/vaults/releaserun/{run.pk}/change/", {"actor": "x"}).status_code == 403
    assert admin_client.post(f"/admin/vaults/releaserun/{run.pk}/delete/", {"post": "yes"}).status_code == 403
    run.refresh_from_db()
    assert run.actor == "cli:a"
    detail = admin_client.get(f"/admin/vaults/releaserun/{run.pk}/change/").content.decode()
    assert "2 operation(s)" in detail and "duration" in detail


def test_lots_changelist_shows_the_forecast_summary_per_currency(admin_client, avenir):
    today = utc_today()
    for days in (3, 3, 7):
        DepositFactory(release_day=today + timedelta(days=days))
    DepositFactory(release_day=today - timedelta(days=2), amount=Decimal("1234567.50"))  # overdue
    released = DepositFactory(release_day=today)
    release_matured_lots(currency="AED", lot_ids=[released.lot_id], as_of=today, trigger=ReleaseTrigger.CLI, actor="t")

    response = admin_client.get("/admin/vaults/vestinglot/")

    (aed,) = response.context["unlock_forecast"]
    assert aed["overdue"] == {"lot_count": 1, "amount": "1,234,567.50 AED", "oldest_day": today - timedelta(days=2)}
    assert aed["upcoming"] == [{"release_day": today + timedelta(days=3), "lot_count": 2, "amount": "20,000.00 AED"}]
    html = response.content.decode()
    assert "/admin/vaults/vestinglot/forecast/" in html and "1,234,567.50 AED" in html
    overdue = re.search(r'href="(\?release_day__lt=[^"]+)"', html).group(1).replace("&amp;", "&")
    assert admin_client.get(f"/admin/vaults/vestinglot/{overdue}").context["cl"].result_count == 1
    assert "/admin/vaults/vestinglot/audit/" in html  # superuser: the audit link


def test_lots_search_by_lot_id_operation_id_and_user(admin_client, avenir):
    a = DepositFactory(release_day=utc_today() + timedelta(days=1))
    b = DepositFactory(release_day=utc_today() + timedelta(days=2))
    user_b = VestingLot.objects.get(pk=b.lot_id).user

    def found(term):
        response = admin_client.get("/admin/vaults/vestinglot/", {"q": term})
        return {lot.pk for lot in response.context["cl"].result_list}

    assert found(str(a.lot_id)) == {a.lot_id}
    assert found(str(b.operation_id)) == {b.lot_id}
    assert found(user_b.username) == {b.lot_id}
    assert found("no-such-thing") == set()
    Vault.objects.create(code=AVENIR_CODE, currency="EUR", product_label="COFFRE AVENIR", vesting_days=365)
    filters = admin_client.get("/admin/vaults/vestinglot/").context["cl"].filter_specs
    assert [spec.title for spec in filters] == ["status", "release day", "currency", "vault"]


def test_lots_changelist_never_counts_the_whole_table(admin_client, avenir):
    for days in range(3):
        DepositFactory(release_day=utc_today() + timedelta(days=days))
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/vaults/vestinglot/")
    assert response.status_code == 200 and response.context["cl"].result_count == 3
    # The forecast line counts the lots of a few release days through the pending index: not the table.
    counts = [
        q["sql"]
        for q in queries.captured_queries
        if "COUNT(" in q["sql"].upper() and "vault_vesting_lots" in q["sql"] and "unlock forecast" not in q["sql"]
    ]
    assert counts and all("LIMIT" in sql for sql in counts), counts


def test_estimated_count_paginator_caps_the_count(avenir):
    for days in range(5):
        DepositFactory(release_day=utc_today() + timedelta(days=days))
    qs = VestingLot.objects.order_by("pk")
    assert EstimatedCountPaginator(qs, 2).count == 5

    class Capped(EstimatedCountPaginator):
        count_cap = 2

    # Past the cap the planner's estimate is used, never below cap + 1.
    assert Capped(qs, 2).count >= 3


def a_run(avenir, **fields) -> ReleaseRun:
    started = timezone.now() - timedelta(minutes=5)
    defaults = {
        "trace_id": f"job-avenir-vesting-20250127-{ReleaseRun.objects.count():08x}",
        "vault": avenir,
        "as_of": date(2025, 1, 27),
        "currency": "AED",
        "trigger": ReleaseTrigger.SCHEDULE,
        "actor": "celery:0f4c7a52-2d6e-4a8e-9d0e-2c7f1b2c9e11",
        "started_at": started,
        "finished_at": started + timedelta(seconds=42, milliseconds=500),
        "status": RunStatus.SUCCEEDED,
    }
    return ReleaseRun.objects.create(**{**defaults, **fields})


def test_run_page_shows_the_summary_as_tables_with_the_raw_json_folded(admin_client, avenir):
    summary = {
        "job": "avenir_vesting_release",
        "summary": {
            "matured_found": 1203,
            "executed_count": 1201,
            "executed_amount": "12010000.00",
            "skipped_count": 0,
            "errors_count": 2,
            "errors": [
                {"lot_id": 41, "code": "INSUFFICIENT_LOCKED_BALANCE", "message": "locked 0.00 < 10000.00"},
                {"lot_id": 42, "code": "ACCOUNT_MISSING", "message": "no WALLET_LOCKED account"},
            ],
            "locks_closed_count": 1201,
            "locks_missing_count": 0,
            "refused_count": 0,
            "refused": [],
        },
        "exit_code": 1,
    }
    run = a_run(
        avenir,
        status=RunStatus.COMPLETED_WITH_ERRORS,
        exit_code=1,
        executed_count=1201,
        executed_amount=Decimal("12010000.00"),
        errors_count=2,
        summary=summary,
    )

    page = admin_client.get(f"/admin/vaults/releaserun/{run.pk}/change/").content.decode()

    assert '<table class="summary-counts">' in page
    assert re.search(r"Matured lots found</th><td[^>]*>1203<", page)
    assert re.search(r"Amount released</th><td[^>]*>12,010,000.00 AED<", page)
    assert "12,010,000.00 AED" in page  # the field too
    errors = page[page.index('<table class="summary-errors">') :]
    assert '<a href="/admin/vaults/vestinglot/41/change/">41</a>' in errors
    assert "<code>INSUFFICIENT_LOCKED_BALANCE</code>" in errors and "locked 0.00 &lt; 10000.00" in errors
    assert "<code>ACCOUNT_MISSING</code>" in errors
    folded = page[page.index('<details class="summary-json">') :]
    assert "<summary>" in folded and "&quot;matured_found&quot;: 1203" in folded
    # ISO times with seconds and the zone.
    assert f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC" in page


def test_an_abandoned_run_shows_its_reason_in_the_list_and_on_its_page(admin_client, avenir):
    reason = "abandoned: no heartbeat for 300 s (lease expired); taken over by job-avenir-vesting-20250127-00000002"
    run = a_run(avenir, status="ABANDONED", exit_code=1, executed_count=7, errors_count=0, error=reason)
    ok = a_run(avenir, executed_count=3, executed_amount=Decimal("30000.00"))

    listing = admin_client.get("/admin/vaults/releaserun/").content.decode()

    assert 'class="run-status run-status-abandoned"' in listing and ">Abandoned<" in listing
    assert reason in listing  # in the badge's tooltip
    assert 'class="run-status run-status-succeeded"' in listing and "30,000.00 AED" in listing
    assert f'title="{ok.trace_id} by {ok.actor}"' in listing and f"\u2026{ok.trace_id[-8:]}" in listing
    page = admin_client.get(f"/admin/vaults/releaserun/{run.pk}/change/").content.decode()
    assert "run-error" in page and reason in page
    assert "No summary: the run did not finish" in page
