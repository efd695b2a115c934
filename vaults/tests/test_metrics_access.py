"""Who may read /metrics: the bearer token of METRICS_BEARER_TOKEN only; without the setting the
endpoint does not exist. Through gunicorn with DEBUG off (the compose web command), plain
HTTP as Prometheus sends it; the refusals are JSON and say nothing else."""

import json

import pytest
from django.test import override_settings

from vaults.tests.factories import DepositFactory
from vaults.tests.support.metrics import METRICS_TOKEN, parse_metrics, sample
from vaults.tests.support.production import fetch

pytestmark = pytest.mark.django_db(transaction=True)  # gunicorn reads what the test commits


def assert_refusal(reply, status: int, error: str) -> None:
    assert reply.status == status
    assert reply.headers["Content-Type"] == "application/json"
    body = json.loads(reply.body)
    assert set(body) == {"error", "detail"} and body["error"] == error
    assert b"avenir" not in reply.body.lower()  # no metric, no name, no value
    assert "no-store" in reply.headers.get("Cache-Control", "")


def test_the_token_opens_it_and_nothing_else_does(web, avenir):
    DepositFactory()
    url = f"{web.base}/metrics"
    good = fetch(url, {"Authorization": f"Bearer {web.metrics_token}"}, tls=False)
    assert good.status == 200, good.body
    assert good.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-store" in good.headers["Cache-Control"]
    assert sample(parse_metrics(good.body.decode()), "avenir_release_overdue_lots", currency="AED") == 0

    # Prometheus asks for OpenMetrics first: it gets it.
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    om = fetch(url, {"Authorization": f"Bearer {web.metrics_token}", "Accept": accept}, tls=False)
    assert om.status == 200 and om.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert om.body.rstrip().endswith(b"# EOF")

    for headers in (
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer wrong-token-of-a-reasonable-length-0123456789"},
        {"Authorization": f"Bearer {web.metrics_token}x"},
        {"Authorization": f"Bearer {web.metrics_token[:-1]}"},
        {"Authorization": f"Basic {web.metrics_token}"},  # the right secret under the wrong scheme
        {"Authorization": web.metrics_token},
    ):
        refused = fetch(url, headers, tls=False)
        assert_refusal(refused, 401, "not_authenticated")
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")

    # Other methods: the same 401 without the token, 405 with it; never the CSRF page.
    assert_refusal(fetch(url, method="POST", tls=False), 401, "not_authenticated")
    posted = fetch(url, {"Authorization": f"Bearer {web.metrics_token}"}, method="POST", tls=False)
    assert_refusal(posted, 405, "method_not_allowed")


def test_without_the_setting_the_endpoint_is_off(client, avenir):
    with override_settings(METRICS_BEARER_TOKEN=""):
        for headers in ({}, {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN}"}, {"HTTP_AUTHORIZATION": "Bearer "}):
            response = client.get("/metrics", **headers)
            assert response.status_code == 404
            assert response["Content-Type"] == "application/json"
            assert response.json() == {"error": "not_found", "detail": "Not found."}
