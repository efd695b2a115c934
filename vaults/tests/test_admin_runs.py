"""Run history, unlock forecast, lots search and the no-COUNT(*) paginator in the admin."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.admin import EstimatedCountPaginator
from ledger.models import Operation
from vaults.admin import ReleaseRunAdmin
from vaults.models import AVENIR_CODE, ReleaseRun, ReleaseTrigger, Vault, VestingLot
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


def test_lots_changelist_shows_the_unlock_forecast(admin_client, avenir):
    today = utc_today()
    for days in (3, 3, 7):
        DepositFactory(release_day=today + timedelta(days=days))
    released = DepositFactory(release_day=today)
    release_matured_lots(currency="AED", lot_ids=[released.lot_id], trigger=ReleaseTrigger.CLI, actor="t")

    response = admin_client.get("/admin/vaults/vestinglot/")
    forecast = response.context["unlock_forecast"]
    assert [(r["release_day"], r["lot_count"], r["total_remaining"]) for r in forecast["AED"]] == [
        (today + timedelta(days=3), 2, "20000.00"),
        (today + timedelta(days=7), 1, "10000.00"),
    ]
    html = response.content.decode()
    assert "Unlock forecast" in html and "20000.00 AED" in html
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
    counts = [
        q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and "vault_vesting_lots" in q["sql"]
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
