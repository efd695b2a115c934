"""The operator's admin at 1366x768 on the production web command: gunicorn with DEBUG off, static
files collected and served by whitenoise (the `web` fixture), HTTPS rules on, in headless Chromium.

Every request carries X-Forwarded-Proto: https, as the TLS proxy in front of gunicorn adds it, so
SECURE_SSL_REDIRECT, HSTS and the secure cookies are those of production (Chromium keeps secure
cookies on 127.0.0.1); the fixture trusts the browser's plain-HTTP origin for CSRF, as a
deployment trusts its proxy's (DJANGO_CSRF_TRUSTED_ORIGINS). Every request to another host is
aborted and recorded. Screenshots go to artifacts/screenshots/; with
UPDATE_DOCS_SCREENSHOTS=1 they are also copied to docs/img/.
"""

import os
import re
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, sync_playwright

from ledger.tests.factories import UserFactory
from vaults.models import AVENIR_CODE, LotStatus, ReleaseRun, ReleaseTrigger, RunStatus, Vault, VestingLot
from vaults.services.release import utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.admin import staff_user
from vaults.tests.support.production import BEHIND_TLS, CHROMIUM

WIDTH, HEIGHT = 1366, 768
SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
DOCS_IMG = Path(settings.BASE_DIR) / "docs" / "img"
DOCS_SHOTS = ("lots_list.png", "release_confirmation.png", "release_done.png", "release_runs.png", "run_page.png")
AMOUNT = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d{2} (AED|EUR|USD)$")
LOT_COLUMNS = (
    "id",
    "user",
    "amount",
    "status",
    "release_day",
    "deposit_day",
    "source_operation_id",
    "last_release_operation_id",
)
RUN_COLUMNS = (
    "run",
    "status_label",
    "as_of",
    "ccy",
    "released",
    "executed_amount",
    "errors",
    "duration",
    "trigger_code",
    "started_at",
)


def seed(today) -> dict:
    """Lots and runs with the widest realistic values: long usernames, 7-digit amounts."""
    users = [UserFactory(username=f"avenir-seed-{i:07d}") for i in range(1, 13)]
    matured = [
        DepositFactory(user=users[0], release_day=today, amount=Decimal("1250000.00")),
        DepositFactory(user=users[1], release_day=today - timedelta(days=1), amount=Decimal("98765.43")),
    ]
    future = DepositFactory(user=users[2], release_day=today + timedelta(days=9), amount=Decimal("10000.00"))
    for i, user in enumerate(users[3:]):
        DepositFactory(user=user, release_day=today + timedelta(days=20 + i), amount=Decimal("2500000.00"))
    vault = VestingLot.objects.get(pk=matured[0].lot_id).vault
    for currency, amount in (("EUR", "750000.00"), ("USD", "42000.00")):  # the forecast shows every currency
        Vault.objects.create(code=AVENIR_CODE, currency=currency, product_label="COFFRE AVENIR", vesting_days=365)
        for days in (2, 2, 15):
            DepositFactory(
                user=users[4], currency=currency, release_day=today + timedelta(days=days), amount=Decimal(amount)
            )
    started = timezone.now() - timedelta(days=1, hours=2)
    runs = []
    for n, (status, errors, error) in enumerate(
        [
            (RunStatus.SUCCEEDED, 0, ""),
            (RunStatus.COMPLETED_WITH_ERRORS, 12, ""),
            (RunStatus.FAILED, 0, "OperationalError: server closed the connection unexpectedly"),
            ("ABANDONED", 0, "abandoned: no heartbeat for 600 s (lease expired); taken over by a later run"),
        ]
    ):
        runs.append(
            ReleaseRun.objects.create(
                trace_id=f"job-avenir-vesting-{today - timedelta(days=n + 1):%Y%m%d}-{n + 10:08x}",
                vault=vault,
                as_of=today - timedelta(days=n + 1),
                currency="AED",
                trigger=ReleaseTrigger.SCHEDULE,
                actor="celery:0f4c7a52-2d6e-4a8e-9d0e-2c7f1b2c9e11",
                started_at=started - timedelta(days=n),
                finished_at=started - timedelta(days=n) + timedelta(seconds=1234.56),
                status=status,
                exit_code=0 if status == RunStatus.SUCCEEDED else 1,
                executed_count=1_000_000 - n,
                executed_amount=Decimal("12345678901.23"),
                errors_count=errors,
                error=error,
                summary={},
            )
        )
    staff_user(
        "operator",
        "vaults.view_vestinglot",
        "vaults.release_vestinglot",
        "vaults.view_releaserun",
        "ledger.view_operation",
        "ledger.view_walletlock",
    )
    return {"matured": matured, "future": future, "runs": runs}


def assert_columns_visible(page: Page, columns: tuple[str, ...]) -> dict[str, float]:
    """Each column's header and first cell lie inside the viewport and inside the list's own
    scrolling box (Django's `.results`), which has nothing to scroll sideways. {column: right edge}."""
    assert page.evaluate("() => document.documentElement.scrollWidth") <= WIDTH
    scroller = "document.querySelector('#changelist .results')"
    assert page.evaluate(f"() => {scroller}.scrollWidth <= {scroller}.clientWidth"), "the list scrolls sideways"
    visible = page.locator("#changelist .results").bounding_box()
    limit = min(WIDTH, visible["x"] + visible["width"])
    edges = {}
    for column in columns:
        boxes = [
            page.locator(f"#result_list th.column-{column}").bounding_box(),
            page.locator(f"#result_list tbody tr:first-child .field-{column}").bounding_box(),
        ]
        assert all(boxes), f"column {column} not shown"
        edges[column] = max(box["x"] + box["width"] for box in boxes)
        assert min(box["x"] for box in boxes) >= 0, column
    assert all(edge <= limit + 0.5 for edge in edges.values()), (limit, edges)
    return edges


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_the_operator_admin_at_1366_on_gunicorn_with_debug_off(web, avenir):
    assert Path(CHROMIUM).exists(), "scripts/test.sh installs Debian's chromium"
    today = utc_today()
    data = seed(today)
    SHOTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    failed: list[str] = []
    # Playwright's sync API runs an event loop in this thread; no ORM call is made inside it.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, extra_http_headers=BEHIND_TLS)

            def only_our_server(route) -> None:
                if route.request.url.startswith(web.base + "/"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            context.route("**/*", only_our_server)
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("requestfailed", lambda r: r.url.startswith(web.base) and failed.append(f"{r.url} {r.failure}"))
            page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} {r.status}"))

            page.goto(f"{web.base}/admin/login/?next=/admin/vaults/vestinglot/")
            page.fill("#id_username", "operator")
            page.fill("#id_password", "pw-for-tests-only")
            page.click("input[type=submit]")
            page.wait_for_selector("#result_list")
            page.wait_for_load_state("networkidle")

            # The admin's CSS and JS, and ours, loaded from whitenoise's hashed names.
            assert page.evaluate("() => typeof django === 'object' && typeof django.jQuery === 'function'")
            assert (
                page.evaluate(
                    "() => getComputedStyle(document.querySelector('#result_list td.field-amount')).textAlign"
                )
                == "right"
            )  # ledger/admin.css
            stylesheets = page.evaluate("() => Array.from(document.styleSheets).map(s => s.href)")
            assert any(re.search(r"/static/vaults/admin\.[0-9a-f]{12}\.css$", href or "") for href in stylesheets)
            assert_columns_visible(page, LOT_COLUMNS)
            amounts = page.locator("#result_list td.field-amount").all_inner_texts()
            assert amounts and all(AMOUNT.match(text) for text in amounts), amounts
            assert "1,250,000.00 AED" in amounts
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", page.inner_text("#result_list tbody tr td.field-release_day"))
            deposit_op = page.locator("#result_list tbody tr:first-child td.field-source_operation_id a")
            assert len(deposit_op.get_attribute("title")) == 36  # the full UUID in the tooltip
            page.screenshot(path=SHOTS / "lots_list.png")

            for deposit in (*data["matured"], data["future"]):
                page.check(f'input[name="_selected_action"][value="{deposit.lot_id}"]')
            page.select_option('select[name="action"]', "release_selected")
            page.click('button[name="index"]')
            page.wait_for_selector(".release-section")
            assert page.inner_text(".will-release-count") == "2"
            assert page.inner_text(".will-release-amount") == "1,348,765.43 AED"
            assert all(AMOUNT.match(t) for t in page.locator(".release-lots td.numeric").all_inner_texts())
            assert page.evaluate("() => document.documentElement.scrollWidth") <= WIDTH
            page.screenshot(path=SHOTS / "release_confirmation.png", full_page=True)

            page.click('input[type=submit][value="Yes, release the matured lots"]')
            success = page.wait_for_selector(".messagelist .success").inner_text()
            assert "Released 2 lot(s), 1,348,765.43 AED" in success
            not_released = page.inner_text(".messagelist .warning")
            assert f"lot {data['future'].lot_id}: not matured" in not_released
            page.screenshot(path=SHOTS / "release_done.png")

            page.click(".messagelist .success a")  # "view run"
            page.wait_for_selector("#run-summary .summary-counts")
            assert "1,348,765.43 AED" in page.inner_text("#run-summary")
            assert page.locator("details.summary-json").count() == 1
            assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", page.inner_text(".field-started_at"))
            page.screenshot(path=SHOTS / "run_page.png", full_page=True)

            page.goto(f"{web.base}/admin/vaults/releaserun/")
            page.wait_for_selector("#result_list")
            page.screenshot(path=SHOTS / "release_runs.png")
            assert_columns_visible(page, RUN_COLUMNS)
            assert all(AMOUNT.match(t) for t in page.locator("#result_list td.field-executed_amount").all_inner_texts())
            assert page.locator(".run-status-abandoned").inner_text() == "Abandoned"
            assert "lease expired" in page.locator(".run-status-abandoned").get_attribute("title")
            badge = "() => getComputedStyle(document.querySelector('.run-status-failed')).backgroundColor"
            assert page.evaluate(badge) == "rgb(198, 40, 40)"  # vaults/admin.css
            page.screenshot(path=SHOTS / "release_runs.png")

            page.goto(f"{web.base}/admin/vaults/vestinglot/forecast/")
            page.wait_for_selector("#forecast-AED")
            assert "1,250,000.00 AED" not in page.inner_text("#forecast-AED")  # released: no longer forecast
            assert "2,500,000.00 AED" in page.inner_text("#forecast-AED")
            assert "1,500,000.00 EUR" in page.inner_text("#forecast-EUR")  # two lots on one day
            assert "84,000.00 USD" in page.inner_text("#forecast-USD")
            boxes = [page.locator(f"#forecast-{c}").bounding_box() for c in ("AED", "EUR", "USD")]
            assert all(box["x"] + box["width"] <= WIDTH for box in boxes)  # side by side, all visible
            page.screenshot(path=SHOTS / "unlock_forecast.png")

            page.goto(f"{web.base}/api/docs/")
            page.wait_for_selector(".swagger-ui .info .title")
            page.wait_for_selector('.opblock-summary-path[data-path="/api/v1/transactions"]')
            page.wait_for_load_state("networkidle")
        finally:
            browser.close()

    assert outside == []  # nothing but our server, Swagger UI included
    assert failed == []  # every page, stylesheet, script and image loaded
    assert [VestingLot.objects.get(pk=d.lot_id).status for d in (*data["matured"], data["future"])] == [
        LotStatus.RELEASED,
        LotStatus.RELEASED,
        LotStatus.VESTED,
    ]
    assert ReleaseRun.objects.get(actor="operator").trace_id in success
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        for name in (*DOCS_SHOTS, "unlock_forecast.png"):
            shutil.copyfile(SHOTS / name, DOCS_IMG / name)
