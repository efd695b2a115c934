"""Bearer authentication of the API (django-rest-knox): every failure is a JSON 401."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from customer_api.tests.support.api import URL, issue_token
from ledger.tests.factories import FundingFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(avenir):
    user = UserFactory()
    FundingFactory(user=user)
    return user


def get(authorization: str | None):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get(URL, {"limit": 50})


def assert_401(response, error: str) -> None:
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["error"] == error and body["detail"]
    assert "items" not in body


def test_valid_bearer_token_is_accepted(user):
    response = get(f"Bearer {issue_token(user)}")
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1


def test_prefix_is_case_insensitive(user):
    assert get(f"bearer {issue_token(user)}").status_code == 200


def test_missing_header(user):
    assert_401(get(None), "not_authenticated")


@pytest.mark.parametrize("prefix", ["Token", "Basic", "JWT", "Bearer:"])
def test_wrong_prefix(user, prefix):
    assert_401(get(f"{prefix} {issue_token(user)}"), "not_authenticated")


def test_token_without_prefix(user):
    assert_401(get(issue_token(user)), "not_authenticated")


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not-a-real-token", "Bearer " + "0" * 64])
def test_invalid_token(user, header):
    assert_401(get(header), "authentication_failed")


def test_tampered_token_is_rejected(user):
    token = issue_token(user)
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")  # same key prefix, wrong digest
    assert_401(get(f"Bearer {tampered}"), "authentication_failed")


def test_expired_token(user):
    token = issue_token(user)
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))

    assert_401(get(f"Bearer {token}"), "authentication_failed")
    assert not AuthToken.objects.filter(user=user).exists()  # knox deletes it on sight


def test_revoked_token(user):
    token = issue_token(user)
    assert get(f"Bearer {token}").status_code == 200

    call_command("api_token", "revoke", user.username, "--key", token[:15])

    assert_401(get(f"Bearer {token}"), "authentication_failed")


def test_inactive_user(user):
    token = issue_token(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert_401(get(f"Bearer {token}"), "authentication_failed")


def test_session_login_is_not_an_api_credential(user):
    """Only Bearer tokens authenticate the API: a logged-in admin session does not."""
    client = APIClient()
    client.force_login(user)
    assert_401(client.get(URL), "not_authenticated")
