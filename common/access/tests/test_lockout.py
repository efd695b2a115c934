"""The admin login lockout through Django's own admin login view, in process: what the page says,
who is locked, how operators unlock, and the client address it counts (the production shape,
gunicorn with 2 workers, is in vaults/tests/test_admin_lockout_gunicorn.py)."""

import math
import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.core.management import call_command
from django.test import Client

from ledger.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIMIT = 3
LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "pw-for-tests-only"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


@pytest.fixture
def operator():
    user = UserFactory(username="ops", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def login(username: str, password: str, *, address: str = "127.0.0.1", client: Client | None = None, **headers):
    client = client or Client()
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address, **headers
    )


def is_locked_out(response) -> bool:
    assert response.status_code in (200, 302, 429), response.status_code
    return response.status_code == 429


def test_the_right_password_is_refused_once_locked_and_opens_no_session(operator):
    assert [is_locked_out(login("ops", "wrong")) for _ in range(LIMIT)] == [False] * (LIMIT - 1) + [True]
    client = Client()

    assert is_locked_out(login("ops", PASSWORD, client=client))
    assert client.get("/admin/").status_code == 302  # still sent to the login page
    assert "_auth_user_id" not in client.session


def test_the_page_says_when_to_try_again_and_nothing_else(operator):
    for _ in range(LIMIT - 1):
        login("ops", "wrong-Secret-1")

    response = login("ops", "wrong-Secret-1")

    newest = AccessAttempt.objects.latest("attempt_time").attempt_time
    ends = newest + timedelta(minutes=15)
    ends = ends.replace(microsecond=0) + timedelta(seconds=1 if ends.microsecond else 0)
    page = response.content.decode()
    assert response.status_code == 429
    assert f'blocked until\n<time datetime="{ends.isoformat()}">{ends:%Y-%m-%d %H:%M:%S} UTC</time>' in page
    assert "(in about 15 minutes)" in page
    assert int(response["Retry-After"]) == math.ceil((ends - newest).total_seconds())
    assert response["Cache-Control"] == "no-store"
    message = page.split('id="content-main"')[1].split("</div>")[0]
    for leak in ("ops", "wrong-Secret-1", "127.0.0.1", "address", "username"):
        assert leak not in message, leak
    assert not re.search(rf"\b{LIMIT}\b\s*(failed|attempt|tries|times)", message)


def test_one_username_is_locked_from_every_address(operator):
    for n in range(LIMIT):
        login("ops", "wrong", address=f"198.51.100.{n}")

    assert is_locked_out(login("ops", PASSWORD, address="198.51.100.99"))
    assert not is_locked_out(login("someone-else", "wrong", address="198.51.100.99"))


def test_one_address_is_locked_for_every_username(operator):
    for n in range(LIMIT):
        login(f"guess-{n}", "wrong", address="198.51.100.7")

    assert is_locked_out(login("ops", PASSWORD, address="198.51.100.7"))
    assert login("ops", PASSWORD, address="198.51.100.8").status_code == 302


def test_axes_reset_username_and_axes_reset_ip_unlock(operator):
    for n in range(LIMIT):
        login("ops", "wrong", address=f"198.51.100.{n}")
    for n in range(LIMIT):
        login(f"guess-{n}", "wrong", address="203.0.113.9")
    assert is_locked_out(login("ops", PASSWORD, address="198.51.100.50"))
    assert is_locked_out(login("nobody", "wrong", address="203.0.113.9"))

    call_command("axes_reset_username", "ops")
    call_command("axes_reset_ip", "203.0.113.9")

    assert login("ops", PASSWORD, address="198.51.100.50").status_code == 302
    assert not is_locked_out(login("nobody", "wrong", address="203.0.113.9"))


def test_deleting_the_access_attempts_in_the_admin_unlocks(operator, admin_client):
    for _ in range(LIMIT):
        login("ops", "wrong")
    assert is_locked_out(login("ops", PASSWORD))
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))

    confirmed = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )

    assert confirmed.status_code == 302 and not AccessAttempt.objects.exists()
    assert login("ops", PASSWORD).status_code == 302
    # The audit trail keeps every failure after the unlock.
    assert AccessFailureLog.objects.filter(username="ops").count() == LIMIT


def test_behind_a_trusted_proxy_the_forwarded_client_is_locked_not_the_proxy(operator, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(LIMIT):
        login(f"guess-{n}", "wrong", address="10.0.0.1", HTTP_X_FORWARDED_FOR=f"forged-{n}, 203.0.113.7")

    assert is_locked_out(login("ops", PASSWORD, address="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7"))
    assert login("ops", PASSWORD, address="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


def test_without_a_trusted_proxy_a_forged_header_does_not_escape_the_lock(operator, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(LIMIT):
        login(f"guess-{n}", "wrong", address="198.51.100.7", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    assert is_locked_out(login("ops", PASSWORD, address="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.200"))


@pytest.mark.parametrize("forwarded_for", ["not-an-ip", "203.0.113.7,", ""])
def test_a_malformed_forwarded_for_behind_a_trusted_proxy_is_a_400(operator, settings, forwarded_for):
    settings.TRUSTED_PROXY_COUNT = 1

    response = login("ops", PASSWORD, address="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for)

    assert response.status_code == 400
    assert not AccessAttempt.objects.exists()


def test_the_login_page_itself_stays_reachable_during_a_lockout(operator):
    for _ in range(LIMIT):
        login("ops", "wrong")

    page = Client().get(LOGIN, REMOTE_ADDR="127.0.0.1")

    assert page.status_code == 200 and re.search(r'name="password"', page.content.decode())
