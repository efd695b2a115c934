"""Everything under /api/ answers errors in JSON, and customer data is never cached."""

import pytest
from rest_framework.test import APIClient

from customer_api.tests.support.api import URL, bearer_client
from ledger.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code and body["detail"]
    return body


@pytest.mark.parametrize("path", ["/api/nope", "/api/v1/", "/api/v1/unknown", "/api/v2/transactions"])
def test_unknown_api_paths_answer_a_json_404(path):
    assert_json_error(APIClient().get(path), 404, "not_found")


def test_the_trailing_slash_form_is_a_json_404_naming_the_right_path():
    user = UserFactory()

    body = assert_json_error(bearer_client(user).get(URL + "/"), 404, "not_found")

    assert body["detail"].endswith(f"use {URL}.")


def test_a_refused_method_is_a_json_405_with_allow():
    user = UserFactory()

    api = assert_json_error(bearer_client(user).post(URL, {}), 405, "method_not_allowed")
    docs = APIClient().post("/api/docs/")

    assert "POST" in api["detail"]
    assert_json_error(docs, 405, "method_not_allowed")
    assert "GET" in docs["Allow"]


def test_authenticated_api_responses_are_not_stored():
    user = UserFactory()

    response = bearer_client(user).get(URL)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_the_public_docs_stay_cacheable():
    response = APIClient().get("/api/schema/")

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_pages_outside_the_api_keep_their_html_404(client):
    response = client.get("/not-an-api-path")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
