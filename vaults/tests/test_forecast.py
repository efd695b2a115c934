"""The unlock forecast (vaults.selectors.unlock_forecast) and its admin page: per currency, the
overdue backlog and the next N release days; one currency never crowds out another."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from vaults.models import AVENIR_CODE, ReleaseTrigger, Vault
from vaults.selectors import ForecastDay, OverdueBacklog, unlock_forecast
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.admin import staff_user

pytestmark = pytest.mark.django_db

FORECAST = "/admin/vaults/vestinglot/forecast/"


@pytest.fixture
def three_currencies(avenir):
    for currency in ("EUR", "USD"):
        Vault.objects.create(code=AVENIR_CODE, currency=currency, product_label="COFFRE AVENIR", vesting_days=365)


def by_currency(forecasts) -> dict:
    return {f.currency: f for f in forecasts}


def test_overdue_backlog_and_next_days_per_currency(three_currencies):
    today = utc_today()
    # AED: two overdue lots, one overdue lot already released (not counted), ten release days ahead.
    DepositFactory(release_day=today - timedelta(days=5), amount=Decimal("100.00"))
    DepositFactory(release_day=today - timedelta(days=1), amount=Decimal("250.50"))
    released = DepositFactory(release_day=today - timedelta(days=3))
    release_matured_lots(
        currency="AED", lot_ids=[released.lot_id], as_of=today, trigger=ReleaseTrigger.CLI, actor="test"
    )
    for days in range(10):
        DepositFactory(release_day=today + timedelta(days=days), amount=Decimal("10.00"))
    DepositFactory(release_day=today + timedelta(days=2), amount=Decimal("5.00"))
    # EUR: far in the future only; USD: nothing.
    DepositFactory(currency="EUR", release_day=today + timedelta(days=200), amount=Decimal("7.00"))

    forecasts = by_currency(unlock_forecast())

    assert list(forecasts) == ["AED", "EUR", "USD"]
    aed, eur, usd = forecasts["AED"], forecasts["EUR"], forecasts["USD"]
    assert aed.today == today
    assert aed.overdue == OverdueBacklog(lot_count=2, amount=Decimal("350.50"), oldest_day=today - timedelta(days=5))
    assert [day.release_day for day in aed.upcoming] == [today + timedelta(days=d) for d in range(7)]  # default 7
    assert aed.upcoming[2] == ForecastDay(today + timedelta(days=2), 2, Decimal("15.00"))
    # AED's many days do not crowd out EUR's one, 200 days ahead.
    assert eur.upcoming == (ForecastDay(today + timedelta(days=200), 1, Decimal("7.00")),)
    assert eur.overdue == OverdueBacklog(lot_count=0, amount=Decimal("0"), oldest_day=None)
    assert usd.upcoming == () and usd.overdue.lot_count == 0


def test_the_number_of_days_is_a_parameter(avenir):
    today = utc_today()
    for days in range(5):
        DepositFactory(release_day=today + timedelta(days=days))

    assert len(by_currency(unlock_forecast(days=3))["AED"].upcoming) == 3
    assert len(by_currency(unlock_forecast(days=30))["AED"].upcoming) == 5
    # `today` can be given: seen from two days ago, today's and tomorrow's lots are upcoming, none overdue.
    earlier = by_currency(unlock_forecast(days=2, today=today - timedelta(days=2)))["AED"]
    assert [d.release_day for d in earlier.upcoming] == [today, today + timedelta(days=1)]
    later = by_currency(unlock_forecast(today=today + timedelta(days=3)))["AED"]
    assert later.overdue.lot_count == 3 and later.overdue.oldest_day == today
    with pytest.raises(ValueError):
        unlock_forecast(days=0)


def test_one_query(avenir):
    with CaptureQueriesContext(connection) as queries:
        unlock_forecast()
    assert len(queries.captured_queries) == 1


def test_the_forecast_page(client, three_currencies):
    today = utc_today()
    DepositFactory(release_day=today - timedelta(days=1), amount=Decimal("1234567.00"))
    for days in range(1, 12):
        DepositFactory(release_day=today + timedelta(days=days))
    DepositFactory(currency="USD", release_day=today + timedelta(days=40), amount=Decimal("99.99"))
    staff_user("viewer", "vaults.view_vestinglot")
    client.login(username="viewer", password="pw-for-tests-only")

    page = client.get(FORECAST)

    assert page.status_code == 200
    forecasts = {f["currency"]: f for f in page.context["forecasts"]}
    assert len(forecasts["AED"]["upcoming"]) == 7 and page.context["days"] == 7
    assert forecasts["AED"]["overdue"]["amount"] == "1,234,567.00 AED"
    assert forecasts["USD"]["upcoming"][0]["amount"] == "99.99 USD"
    html = page.content.decode()
    for currency in ("AED", "EUR", "USD"):
        assert f'id="forecast-{currency}"' in html
    assert "1,234,567.00 AED" in html and (today - timedelta(days=1)).isoformat() in html
    assert f"release_day__lt={today.isoformat()}&amp;currency__exact=AED&amp;status__exact=VESTED" in html

    assert (
        len({f["currency"]: f for f in client.get(FORECAST, {"days": 3}).context["forecasts"]}["AED"]["upcoming"]) == 3
    )
    assert client.get(FORECAST, {"days": "nonsense"}).context["days"] == 7
    assert client.get(FORECAST, {"days": "100000"}).context["days"] == 366


def test_the_forecast_page_needs_the_lots_permission(client, avenir):
    staff_user("nobody")
    client.login(username="nobody", password="pw-for-tests-only")
    assert client.get(FORECAST).status_code == 403
