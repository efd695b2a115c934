"""manage.py api_token: create, list and revoke knox tokens."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from customer_api.exceptions import ApiTokenError, CustomerApiError
from customer_api.tests.support.api import URL
from customer_api.tests.support.manage import manage
from customer_api.tokens import create_api_token
from ledger.exceptions import LedgerError
from ledger.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out, err = StringIO(), StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip()


def test_create_prints_only_a_working_token_stored_hashed(avenir):
    user = UserFactory()
    token = run("create", user.username)

    assert "\n" not in token and len(token) >= 64
    stored = AuthToken.objects.get(user=user)
    assert stored.digest != token and token not in stored.digest  # only a hash is stored
    assert stored.token_key == token[:15]
    # Default lifetime: REST_KNOX TOKEN_TTL (24 h).
    assert abs(stored.expiry - (timezone.now() + timedelta(hours=24))) < timedelta(minutes=1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get(URL).status_code == 200


def test_create_with_ttl(avenir):
    user = UserFactory()
    run("create", user.username, "--ttl-hours", "2")
    expiry = AuthToken.objects.get(user=user).expiry
    assert abs(expiry - (timezone.now() + timedelta(hours=2))) < timedelta(minutes=1)


def test_create_accepts_the_bounds_of_the_ttl_range(avenir):
    user = UserFactory()
    run("create", user.username, "--ttl-hours", "1")
    run("create", user.username, "--ttl-hours", "8760")
    expiries = sorted(AuthToken.objects.filter(user=user).values_list("expiry", flat=True))
    assert abs(expiries[0] - (timezone.now() + timedelta(hours=1))) < timedelta(minutes=1)
    assert abs(expiries[1] - (timezone.now() + timedelta(days=365))) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "ttl",
    ["0", "-1", "8761", str(24 * 366), "99999999999999", "-99999999999999", "9" * 40],
)
def test_create_refuses_a_ttl_outside_its_range_and_creates_nothing(avenir, ttl):
    user = UserFactory()
    with pytest.raises(CommandError) as exc:
        run("create", user.username, "--ttl-hours", ttl)
    assert exc.value.returncode == 2
    assert "--ttl-hours must be in 1..8760" in str(exc.value)
    assert not AuthToken.objects.exists()


def test_a_huge_ttl_is_one_line_and_exit_2_from_manage_py(avenir):
    """What an operator sees: no OverflowError traceback, nothing created."""
    user = UserFactory()
    done = manage("api_token", "create", user.username, "--ttl-hours", "99999999999999")

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "CommandError: --ttl-hours must be in 1..8760 (at most one year), not 99999999999999"
    ]
    assert not AuthToken.objects.exists()


@pytest.mark.parametrize("hours", ["0", "8761", "99999999999999"])
def test_a_default_ttl_setting_outside_the_range_stops_manage_py_in_one_line(hours):
    done = manage("api_token", "--help", API_TOKEN_TTL_HOURS=hours)

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: API_TOKEN_TTL_HOURS must be in 1..8760 (one year), got {hours}"
    ]


def test_unknown_or_inactive_user_is_a_usage_error(avenir):
    with pytest.raises(CommandError) as exc:
        run("create", "nobody")
    assert exc.value.returncode == 2
    inactive = UserFactory(is_active=False)
    with pytest.raises(CommandError):
        run("create", inactive.username)


def test_list_shows_keys_and_states_never_tokens(avenir):
    user = UserFactory()
    old = run("create", user.username)
    new = run("create", user.username)
    AuthToken.objects.filter(token_key=old[:15]).update(expiry=timezone.now() - timedelta(minutes=1))

    lines = run("list", user.username).splitlines()

    assert [line.split("\t")[0] for line in lines] == [old[:15], new[:15]]
    assert [line.split("\t")[-1] for line in lines] == ["expired", "active"]
    assert old not in "\n".join(lines) and new not in "\n".join(lines)


def test_revoke_one_then_all(avenir):
    user, other = UserFactory(), UserFactory()
    first, second, third = (run("create", user.username) for _ in range(3))
    others = run("create", other.username)

    assert run("revoke", user.username, "--key", first[:15]) == "revoked 1 token(s)"
    assert set(AuthToken.objects.filter(user=user).values_list("token_key", flat=True)) == {second[:15], third[:15]}
    with pytest.raises(CommandError):  # already revoked
        run("revoke", user.username, "--key", first[:15])
    with pytest.raises(CommandError):  # another user's key is not this user's token
        run("revoke", user.username, "--key", others[:15])

    assert run("revoke", user.username, "--all") == "revoked 2 token(s)"
    assert not AuthToken.objects.filter(user=user).exists()
    assert AuthToken.objects.filter(user=other).count() == 1


def test_the_service_bounds_the_lifetime_too_and_its_errors_are_not_ledger_errors(avenir):
    user = UserFactory()
    for ttl in (timedelta(minutes=59), timedelta(days=365, seconds=1)):
        with pytest.raises(ApiTokenError):
            create_api_token(username=user.username, ttl=ttl)
    assert not AuthToken.objects.exists()
    assert issubclass(ApiTokenError, CustomerApiError) and not issubclass(ApiTokenError, LedgerError)
