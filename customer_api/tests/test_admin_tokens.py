"""The token admin (customer_api/admin.py): create expiring tokens, revoke by deleting."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from customer_api.tests.support.api import URL
from ledger.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/knox/authtoken/add/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def post_add(staff_client, user, expiry: str, **extra):
    when = {"expiry_0": expiry[:10], "expiry_1": expiry[11:19]} if expiry else {"expiry_0": "", "expiry_1": ""}
    return staff_client.post(ADD_URL, {"user": user.pk, **when, **extra}, follow=True)


def in_five_hours() -> str:
    return (timezone.now() + timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S")


def shown_token(response) -> str:
    found = re.findall(r'id="api-token"[^>]*value="([^"]+)"', response.content.decode())
    assert len(found) == 1, "the page shows the token exactly once"
    return found[0]


def test_admin_creates_a_working_expiring_token_shown_once(staff_client, avenir):
    user = UserFactory()

    response = post_add(staff_client, user, in_five_hours())

    assert response.status_code == 200
    token = AuthToken.objects.get(user=user)
    assert token.expiry is not None
    clear = shown_token(response)
    assert clear[:15] == token.token_key and clear != token.digest
    assert response.content.decode().count(clear) == 1
    assert "no-store" in response["Cache-Control"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
    assert api.get(URL).status_code == 200


@pytest.mark.parametrize("button", [{}, {"_continue": "1"}, {"_addanother": "1"}])
def test_the_created_token_is_in_no_cookie_and_not_shown_again(staff_client, avenir, button):
    user = UserFactory()

    response = post_add(staff_client, user, in_five_hours(), **button)
    clear = shown_token(response)
    # The pages an operator opens next: a flash message would surface there, from its cookie.
    later = [staff_client.get("/admin/knox/authtoken/"), staff_client.get("/admin/")]

    for page in [response, *later]:
        for morsel in page.cookies.values():
            assert clear not in morsel.value, morsel.key
    for cookie in staff_client.cookies.values():
        assert clear not in cookie.value, cookie.key
    for page in later:
        assert page.status_code == 200 and clear not in page.content.decode()


@pytest.mark.parametrize(
    "offset", [None, timedelta(hours=-1), timedelta(minutes=30), timedelta(days=365, hours=1), timedelta(days=400)]
)
def test_admin_refuses_tokens_without_a_sensible_expiry(staff_client, offset):
    """The api_token command's bounds: 1 hour..365 days from now."""
    user = UserFactory()
    expiry = "" if offset is None else (timezone.now() + offset).strftime("%Y-%m-%d %H:%M:%S")

    response = post_add(staff_client, user, expiry)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["expiry"]
    assert not AuthToken.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("day", "time"),
    [("9999-12-31", "23:59:59"), ("0001-01-01", "00:00:00"), ("99999-01-01", "00:00:00"), ("2025-02-30", "12:00:00")],
)
def test_admin_refuses_extreme_or_impossible_expiry_dates_as_form_errors(staff_client, day, time):
    user = UserFactory()

    response = staff_client.post(ADD_URL, {"user": user.pk, "expiry_0": day, "expiry_1": time})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["expiry"]
    assert not AuthToken.objects.exists()


def test_admin_lists_token_keys_never_tokens_and_deleting_revokes(staff_client, avenir):
    user = UserFactory()
    instance, token = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))

    listing = staff_client.get("/admin/knox/authtoken/")
    assert listing.status_code == 200
    # The digest (knox's primary key, a SHA-512 hash) appears in links; the clear token never does.
    assert instance.token_key in listing.content.decode() and token not in listing.content.decode()

    delete_url = f"/admin/knox/authtoken/{instance.pk}/delete/"
    assert staff_client.post(delete_url, {"post": "yes"}).status_code == 302
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get(URL).status_code == 401
