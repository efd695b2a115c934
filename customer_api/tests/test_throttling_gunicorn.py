"""The API's rate limits on the production shape: gunicorn with 2 workers, DEBUG off, the
environment of `.env.example`, and the counts in the real redis-server that scripts/test.sh
starts (the broker's, whose next database is the cache).

Clients are told apart by their real TCP address (127.0.0.1 and 127.0.0.2) where no proxy is
trusted, and by X-Forwarded-For where one is. A request held half-sent occupies one worker, so
the other one serves everything else: both workers provably share one count.
"""

import json
import secrets

import pytest

from customer_api.tests.support.api import URL, issue_token
from ledger.tests.factories import UserFactory
from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.production import serve_web
from vaults.tests.support.raw_http import ACCESS_LOG_ARGS, HeldRequest, Reply, send, workers_by_request

pytestmark = pytest.mark.django_db(transaction=True)  # gunicorn reads the users and tokens: commit them

USER_LIMIT, ANON_LIMIT = 6, 5
LIMITS = {"API_THROTTLE_USER_RATE": f"{USER_LIMIT}/min", "API_THROTTLE_ANON_RATE": f"{ANON_LIMIT}/min"}
OTHER_CLIENT = "127.0.0.2"


def _server(static_root, tmp_path_factory, name: str, proxies: int):
    log = tmp_path_factory.mktemp(name) / "web.log"
    return serve_web(
        static_root=static_root,
        log_path=log,
        workers=2,
        extra_args=ACCESS_LOG_ARGS,
        TRUSTED_PROXY_COUNT=str(proxies),
        **LIMITS,
    )


@pytest.fixture(scope="module")
def direct(collected_static, tmp_path_factory):
    """Clients reach gunicorn directly: no proxy is trusted, X-Forwarded-For is ignored."""
    with _server(collected_static, tmp_path_factory, "api-direct", proxies=0) as web:
        yield web


@pytest.fixture(scope="module")
def behind_proxy(collected_static, tmp_path_factory):
    """One trusted proxy appends the client's address to X-Forwarded-For (the test plays it)."""
    with _server(collected_static, tmp_path_factory, "api-proxy", proxies=1) as web:
        yield web


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token() -> str:
    return issue_token(UserFactory())


def guess(web, *, source: str = "127.0.0.1", **headers: str) -> Reply:
    """A made-up token, as someone guessing would send it."""
    return send(web.base, URL, headers={**bearer(secrets.token_hex(32)), **headers}, source=source)


def assert_error(reply: Reply, status: int, error: str) -> dict:
    assert reply.status == status, (reply.status, reply.text)
    assert reply.headers["Content-Type"] == "application/json"
    body = json.loads(reply.body)
    assert body["error"] == error and body["detail"], body
    return body


def assert_throttled(reply: Reply) -> int:
    body = assert_error(reply, 429, "throttled")
    retry_after = int(reply.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert f"Expected available in {retry_after} second" in body["detail"]
    assert "no-store" in reply.headers["Cache-Control"]
    return retry_after


def test_made_up_tokens_from_one_address_get_429_and_another_address_is_unaffected(direct, token):
    for _ in range(ANON_LIMIT):
        assert_error(guess(direct), 401, "authentication_failed")

    assert_throttled(guess(direct))
    # Even the right token: else a guess that hit it would still be told apart.
    assert_throttled(send(direct.base, URL, headers=bearer(token)))
    other = send(direct.base, URL, headers=bearer(token), source=OTHER_CLIENT)
    assert other.status == 200 and json.loads(other.body)["items"] == []
    assert_error(guess(direct, source=OTHER_CLIENT), 401, "authentication_failed")


def test_missing_and_foreign_credentials_count_as_failed_authentication(direct):
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}, {"Authorization": "Bearer"}):
        assert send(direct.base, URL, headers=headers).status == 401
    for _ in range(ANON_LIMIT - 3):
        assert guess(direct).status == 401

    assert_throttled(send(direct.base, URL))


def test_a_valid_token_gets_429_after_its_own_limit_across_both_workers(direct, token):
    held = HeldRequest(direct.base, f"{URL}?probe=held", headers=bearer(token))  # one worker waits on it
    served = [send(direct.base, f"{URL}?probe={n}", headers=bearer(token)) for n in range(USER_LIMIT)]

    assert [reply.status for reply in served] == [200] * USER_LIMIT
    assert_throttled(held.finish())  # the worker that served none of them knows the count
    assert send(direct.base, URL, headers=bearer(issue_token(UserFactory()))).status == 200  # another user
    workers = wait_for(
        lambda: (log := workers_by_request(direct.log)).get(f"GET {URL}?probe=held HTTP/1.1") and log,
        timeout=10,
        what="the access log of the held request",
    )
    others = set().union(*(workers[f"GET {URL}?probe={n} HTTP/1.1"] for n in range(USER_LIMIT)))
    assert len(workers[f"GET {URL}?probe=held HTTP/1.1"] | others) == 2


def test_a_spoofed_forwarded_for_is_ignored_when_no_proxy_is_trusted(direct):
    for n in range(ANON_LIMIT):
        assert guess(direct, **{"X-Forwarded-For": f"198.51.100.{n}"}).status == 401

    # A new address in the header does not reset the count, nor does naming another client move it.
    assert_throttled(guess(direct, **{"X-Forwarded-For": "198.51.100.200"}))
    assert guess(direct, source=OTHER_CLIENT, **{"X-Forwarded-For": "127.0.0.1"}).status == 401


def test_bad_input_is_a_json_401_never_a_500_and_the_count_goes_on(direct):
    # Over gunicorn's header field limit (8190 bytes): gunicorn answers before Django runs.
    too_big = send(direct.base, URL, headers=bearer("a" * 9000))
    assert too_big.status == 431 and b"Request Header Fields Too Large" in too_big.body
    for headers, error in (
        (bearer("a" * 8000), "authentication_failed"),  # as big as gunicorn lets through
        (bearer("\xff\xfe" + "0" * 62), "authentication_failed"),  # bytes that are not UTF-8
        ({"Authorization": "Negotiate " + "A" * 200}, "not_authenticated"),  # an unknown scheme
        ({**bearer("0" * 64), "X-Forwarded-For": "not-an-ip, , [::"}, "authentication_failed"),  # ignored here
    ):
        assert_error(send(direct.base, URL, headers=headers), 401, error)

    assert guess(direct).status == 401  # the 5th failure: the refused headers above counted, gunicorn's 431 did not
    assert_throttled(guess(direct))


def test_forwarded_for_names_the_client_behind_a_trusted_proxy(behind_proxy, token):
    for n in range(ANON_LIMIT):
        # Whatever the client writes on the left, the proxy appends the address it saw.
        assert guess(behind_proxy, **{"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.7"}).status == 401

    assert_throttled(guess(behind_proxy, **{"X-Forwarded-For": "203.0.113.7"}))
    assert guess(behind_proxy, **{"X-Forwarded-For": "203.0.113.7, 203.0.113.8"}).status == 401  # another client
    ok = send(behind_proxy.base, URL, headers={**bearer(token), "X-Forwarded-For": "203.0.113.8"})
    assert ok.status == 200


def test_a_malformed_forwarded_for_behind_a_trusted_proxy_is_a_json_400(behind_proxy):
    for _ in range(ANON_LIMIT):
        assert guess(behind_proxy, **{"X-Forwarded-For": "203.0.113.7"}).status == 401

    for header in ("203.0.113.7, not-an-ip", "", "203.0.113.7,", "203.0.113.7 203.0.113.9"):
        body = assert_error(guess(behind_proxy, **{"X-Forwarded-For": header}), 400, "invalid_header")
        assert body["detail"] == "Malformed X-Forwarded-For header."
    assert_throttled(guess(behind_proxy, **{"X-Forwarded-For": "203.0.113.7"}))  # still counted
