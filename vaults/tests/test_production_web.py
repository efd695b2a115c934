"""The compose `web` command (gunicorn) with DEBUG off and the environment of `.env.example`:
static files collected into a temporary STATIC_ROOT and served by whitenoise, HTTPS rules on,
and a Swagger UI that renders with every request outside the server blocked."""

import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from vaults.tests.support.production import _OPENER, BEHIND_TLS, CHROMIUM, fetch, linked_assets
from vaults.tests.support.stack import ROOT

# `web` (vaults/tests/conftest.py): collectstatic, then gunicorn with DEBUG off, for the session.


def test_the_admin_is_served_with_its_hashed_compressed_css_and_js(web):
    login = fetch(f"{web.base}/admin/login/")
    assets = linked_assets(login.body.decode())

    base_css = next(url for url in assets if re.fullmatch(r"/static/admin/css/base\.[0-9a-f]{12}\.css", url))
    assert any(url.endswith(".js") for url in assets)
    for url in assets:
        reply = fetch(web.base + url, {"Accept-Encoding": "gzip"})
        assert reply.status == 200, url
        assert reply.headers["Content-Encoding"] == "gzip", url
        assert "immutable" in reply.headers["Cache-Control"], url  # hashed names: cached for good
    plain = fetch(f"{web.base}/static/admin/css/base.css")
    assert plain.status == 200 and plain.headers["Content-Type"].startswith("text/css")
    assert b"--body-fg" in plain.body  # the real stylesheet, not an error page
    assert b"--body-fg" in fetch(web.base + base_css).body  # same sheet, its url()s rewritten to hashed names


def test_https_is_enforced_behind_the_proxy_header(web):
    direct = urllib.request.Request(f"{web.base}/admin/login/")  # no X-Forwarded-Proto: plain HTTP
    with pytest.raises(urllib.error.HTTPError) as redirect:
        _OPENER.open(direct, timeout=10)
    assert redirect.value.code == 301
    assert redirect.value.headers["Location"].startswith("https://127.0.0.1")

    login = fetch(f"{web.base}/admin/login/")
    assert "max-age=31536000" in login.headers["Strict-Transport-Security"]
    cookies = [value for name, value in login.headers.items() if name.lower() == "set-cookie"]
    assert cookies and all("Secure" in cookie for cookie in cookies)


def test_swagger_ui_renders_with_every_outside_request_blocked(web):
    assert Path(CHROMIUM).exists(), "scripts/test.sh installs Debian's chromium"
    page_html = fetch(f"{web.base}/api/docs/").body.decode()
    assert "cdn" not in page_html.lower() and "persistAuthorization" not in page_html
    assert all(url.startswith("/static/drf_spectacular_sidecar/") for url in linked_assets(page_html))

    outside: list[str] = []
    # Playwright's sync API runs an event loop in this thread; this test makes no ORM call.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(extra_http_headers=BEHIND_TLS, viewport={"width": 1366, "height": 768})

            def only_our_server(route) -> None:
                if route.request.url.startswith(web.base):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            context.route("**/*", only_our_server)
            page = context.new_page()
            page.goto(f"{web.base}/api/docs/")
            page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
            title = page.inner_text(".swagger-ui .info .title")
            page.wait_for_selector('.opblock-summary-path[data-path="/api/v1/transactions"]', timeout=15_000)
            # An operator pastes a token: it must not outlive the page (no persistAuthorization).
            page.click(".swagger-ui .auth-wrapper button.authorize")
            page.fill(".modal-ux input", "pasted-token-value")
            page.click(".modal-ux .auth-btn-wrapper button.authorize")
            page.wait_for_selector(".modal-ux button.btn-done, .modal-ux .auth-btn-wrapper button.btn-done")
            stored = page.evaluate("() => JSON.stringify(window.localStorage)")
        finally:
            browser.close()

    assert "Vancelian customer API" in title
    assert outside == []
    assert "pasted-token-value" not in stored and "authorized" not in stored


def test_the_image_collects_static_files_at_build_with_debug_off():
    dockerfile = (ROOT / "Dockerfile").read_text()
    build = dockerfile[dockerfile.index("COPY . .") : dockerfile.index("USER app")]

    assert "manage.py collectstatic --noinput" in build
    assert "DJANGO_DEBUG=false" in build  # the hashed, compressed storage
