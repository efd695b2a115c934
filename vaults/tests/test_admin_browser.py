"""One real-browser walk through the operator surfaces: headless Chromium (Debian's package)
driven by Playwright against pytest-django's live_server. Screenshots go to
artifacts/screenshots/ (test artifacts); with UPDATE_DOCS_SCREENSHOTS=1 the audit page is also
copied to docs/img/ (the other pages' come from test_production_admin_browser.py, on gunicorn)."""

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import sync_playwright

from vaults.models import LotStatus, ReleaseRun, VestingLot
from vaults.services.release import utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.admin import seed_every_inconsistency, staff_user

# Playwright's sync API runs an event loop in this thread, and Django refuses sync ORM calls
# under a running loop. The test makes none there (see below); the live server runs in its own
# threads. This setting only keeps Django from raising if a fixture touches the ORM meanwhile.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
DOCS_IMG = Path(settings.BASE_DIR) / "docs" / "img"


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
def test_operator_releases_lots_and_opens_the_lock_audit_in_a_real_browser(live_server, avenir):
    assert Path(CHROMIUM).exists(), "scripts/test.sh installs Debian's chromium"
    seed_every_inconsistency()  # gives the audit page something to show
    today = utc_today()
    matured = [DepositFactory(release_day=today), DepositFactory(release_day=today - timedelta(days=1))]
    future = DepositFactory(release_day=today + timedelta(days=9))
    staff_user(
        "operator",
        "vaults.view_vestinglot",
        "vaults.release_vestinglot",
        "vaults.view_releaserun",
        "ledger.view_walletlock",
        "vaults.repair_wallet_lock",
    )
    SHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(15_000)
            page.goto(f"{live_server.url}/admin/login/?next=/admin/vaults/vestinglot/")
            page.fill("#id_username", "operator")
            page.fill("#id_password", "pw-for-tests-only")
            page.click("input[type=submit]")
            page.wait_for_selector("#unlock-forecast")
            page.screenshot(path=SHOTS / "live_lots_changelist.png", full_page=True)

            for deposit in (*matured, future):
                page.check(f'input[name="_selected_action"][value="{deposit.lot_id}"]')
            page.select_option('select[name="action"]', "release_selected")
            page.click('button[name="index"]')
            page.wait_for_selector(".release-section")
            assert page.inner_text(".will-release-count") == "2"
            assert page.inner_text(".will-release-amount") == "20,000.00 AED"
            assert str(future.lot_id) in page.inner_text(".refused")
            page.screenshot(path=SHOTS / "live_release_confirmation.png", full_page=True)

            page.click('input[type=submit][value="Yes, release the matured lots"]')
            success = page.wait_for_selector(".messagelist .success").inner_text()
            assert "Released 2 lot(s), 20,000.00 AED" in success
            page.screenshot(path=SHOTS / "live_release_done.png", full_page=True)

            page.click("text=Lock audit")
            page.wait_for_selector("#audit-counts")
            assert "inconsistenc" in page.inner_text(".audit-status")
            assert page.inner_text(".count-RELEASED_LOT_ACTIVE_LOCK") == "1"
            page.screenshot(path=SHOTS / "lock_audit.png", full_page=True)
            page.wait_for_load_state("networkidle")  # no request left in flight on the live server
        finally:
            browser.close()

    # The ORM only outside Playwright's event loop: inside it Django would open a second connection.
    assert ReleaseRun.objects.get(actor="operator").trace_id in success
    assert [VestingLot.objects.get(pk=d.lot_id).status for d in (*matured, future)] == [
        LotStatus.RELEASED,
        LotStatus.RELEASED,
        LotStatus.VESTED,
    ]
    assert all((SHOTS / name).stat().st_size > 10_000 for name in ("live_release_confirmation.png", "lock_audit.png"))
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHOTS / "lock_audit.png", DOCS_IMG / "lock_audit.png")
