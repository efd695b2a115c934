"""The API's rate limits in process (the production shape, gunicorn with 2 workers on the real
Redis, is in test_throttling_gunicorn.py): the 429 and its Retry-After, the per-address limit on
failed authentication checked before authentication, odd Authorization headers, a cache outage."""

import secrets

import pytest
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.throttling import SimpleRateThrottle

from customer_api.tests.support.api import URL, issue_token
from customer_api.throttling import UserThrottle, address_bucket
from ledger.tests.factories import UserFactory
from vancelian.access_settings import cache_settings
from vaults.tests.support.production import free_port

pytestmark = pytest.mark.django_db

USER_LIMIT, ANON_LIMIT = 3, 2


@pytest.fixture(autouse=True)
def rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": f"{USER_LIMIT}/min", "anon": f"{ANON_LIMIT}/min"},
    }


@pytest.fixture
def token() -> str:
    return issue_token(UserFactory())


def get(authorization: str | None = None, *, address: str = "127.0.0.1"):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get(URL, REMOTE_ADDR=address)


def guess(address: str = "127.0.0.1"):
    return get(f"Bearer {secrets.token_hex(32)}", address=address)


def assert_throttled(response) -> int:
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    retry_after = int(response["Retry-After"])
    assert body == {
        "error": "throttled",
        "detail": f"Request was throttled. Expected available in {retry_after} seconds.",
    }
    assert "no-store" in response["Cache-Control"]
    return retry_after


def test_over_its_limit_a_token_gets_a_json_429_with_retry_after(token):
    assert [get(f"Bearer {token}").status_code for _ in range(USER_LIMIT)] == [200] * USER_LIMIT

    assert 59 <= assert_throttled(get(f"Bearer {token}")) <= 60
    assert get(f"Bearer {issue_token(UserFactory())}").status_code == 200  # another user has its own count


def test_retry_after_is_when_the_oldest_request_that_keeps_the_client_over_leaves_the_window(token):
    """Five requests counted (say under a higher limit), the limit now three: the third newest
    must leave the window. DRF's own estimate has no answer then."""
    request = Request(APIRequestFactory().get(URL))
    request.user = UserFactory()
    throttle = UserThrottle()
    throttle.timer = lambda: 1000.0 + 45
    throttle.cache.set(throttle.get_cache_key(request, None), [1040.0, 1030.0, 1020.0, 1010.0, 1000.0], 60)

    assert throttle.allow_request(request, None) is False
    assert throttle.wait() == 1020.0 + 60 - 1045.0
    assert SimpleRateThrottle.wait(throttle) is None


def test_made_up_tokens_are_limited_per_address_before_authentication(token):
    assert [guess().status_code for _ in range(ANON_LIMIT)] == [401] * ANON_LIMIT

    assert_throttled(guess())
    assert_throttled(get(f"Bearer {token}"))  # the right token too: a guess must not tell it apart
    assert get(f"Bearer {token}", address="127.0.0.2").status_code == 200
    assert guess("127.0.0.2").status_code == 401


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer", "Token abc"])
def test_missing_or_foreign_credentials_count_against_the_address(authorization):
    for _ in range(ANON_LIMIT):
        assert get(authorization).status_code == 401

    assert_throttled(get(authorization))


def test_authenticated_requests_do_not_count_against_the_address(settings, token):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "50/min", "anon": "2/min"}}
    for _ in range(10):
        assert get(f"Bearer {token}").status_code == 200

    assert guess().status_code == 401


def test_an_ipv6_client_is_counted_by_its_64():
    assert guess("2001:db8:1:2::1").status_code == 401
    assert guess("2001:db8:1:2:ffff::9").status_code == 401

    assert_throttled(guess("2001:db8:1:2::abcd"))
    assert guess("2001:db8:1:3::1").status_code == 401
    assert address_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64" and address_bucket(None) == "unknown"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer " + "a" * 8000,
        "Bearer \xff\xfe" + "0" * 62,  # latin-1 bytes that are not UTF-8
        "Bearer " + "0" * 5 + "\x00" + "0" * 58,  # a NUL byte in the looked-up part: PostgreSQL refuses it
        "Bearer " + "A" * 64,  # uppercase: knox never issues it
        "Bearer " + "0" * 63,
        # A non-ASCII digit, as WSGI hands any header over: its UTF-8 bytes read as latin-1.
        "Bearer " + "\u0661".encode().decode("latin-1") + "0" * 63,
    ],
)
def test_a_header_that_cannot_hold_a_token_is_a_json_401_and_counts(authorization):
    response = get(authorization)

    assert response.status_code == 401 and response.json() == {
        "error": "authentication_failed",
        "detail": "Invalid token.",
    }
    assert get(authorization).status_code == 401
    assert_throttled(get(authorization))


def test_a_cache_outage_lets_requests_through_and_is_logged(settings, token, caplog):
    settings.CACHES = {"default": cache_settings(f"redis://127.0.0.1:{free_port()}/1")}  # nothing listens

    assert [get(f"Bearer {token}").status_code for _ in range(USER_LIMIT + 1)] == [200] * (USER_LIMIT + 1)
    assert [guess().status_code for _ in range(ANON_LIMIT + 1)] == [401] * (ANON_LIMIT + 1)
    warnings = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    assert {w["event"] for w in warnings} == {"api_throttle_cache_unavailable"}
    assert {w["scope"] for w in warnings} == {"user", "anon"}
