"""The OpenAPI schema (drf-spectacular), its Swagger UI, and a schemathesis fuzz run against it."""

import time
from datetime import date

import pytest
import schemathesis
import yaml
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given, settings
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from customer_api.tests.support.api import issue_token
from ledger.tests.factories import FundingFactory, UserFactory
from vaults.tests.factories import DepositFactory

SCHEMA_URL = "/api/schema/"
FUZZ_EXAMPLES = 50


@pytest.fixture
def schema_doc(db) -> dict:
    response = APIClient().get(SCHEMA_URL, HTTP_ACCEPT="application/json")  # public: no token
    assert response.status_code == 200
    return response.json()


def test_schema_validates_against_the_openapi_spec(schema_doc):
    validate_schema(schema_doc)  # raises on an invalid document
    assert schema_doc["openapi"].startswith("3.")


def test_schema_generation_has_no_warnings(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn` is what CI can run too."""
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/transactions" in yaml.safe_load(target.read_text())["paths"]


def test_schema_declares_the_bearer_scheme_on_the_endpoint(schema_doc):
    assert schema_doc["components"]["securitySchemes"]["bearerAuth"]["type"] == "http"
    assert schema_doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operation = schema_doc["paths"]["/api/v1/transactions"]["get"]
    assert operation["security"] == [{"bearerAuth": []}]  # no anonymous alternative
    assert set(operation["responses"]) == {"200", "400", "401", "429"}
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert set(parameters) == {"limit", "operation_type", "created_from", "created_to", "cursor"}
    assert (parameters["limit"]["minimum"], parameters["limit"]["maximum"], parameters["limit"]["default"]) == (
        1,
        200,
        50,
    )
    item = schema_doc["components"]["schemas"]["TransactionItem"]["properties"]
    assert "trace_id" not in item and item["amount_display"]["type"] == "string"
    assert list(schema_doc["paths"]) == ["/api/v1/transactions"]  # only the public API is described


def test_swagger_ui_is_served(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content and SCHEMA_URL.encode() in response.content


@pytest.mark.django_db(transaction=True)  # the WSGI app below runs real requests: data must be committed
def test_schemathesis_fuzz_finds_no_server_error(avenir):
    user = UserFactory()
    FundingFactory(user=user)
    DepositFactory(user=user, release_day=date(2030, 1, 1))
    headers = {"Authorization": f"Bearer {issue_token(user)}"}
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, WSGIHandler())
    operation = schema["/api/v1/transactions"]["GET"]
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    statuses: dict[str, set[int]] = {}
    started = time.monotonic()

    def run(mode: GenerationMode) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case):
            response = case.call(headers=headers)
            statuses.setdefault(mode.value, set()).add(response.status_code)
            case.validate_response(response, checks=checks, headers=headers)

        fuzz()

    run(GenerationMode.POSITIVE)
    run(GenerationMode.NEGATIVE)

    assert time.monotonic() - started < 60
    # Positive data is served; negative data is refused with a 400 (never a 5xx, checked per call).
    assert 200 in statuses["positive"]
    assert 400 in statuses["negative"]
    assert all(code < 500 for codes in statuses.values() for code in codes)
