"""Odd input in the admin never gives a 500: Unicode digits ("²" passes str.isdigit() but not
int()), numbers beyond bigint, garbage ids in searches, actions and the repair form. Each is
answered normally and changes nothing."""

import pytest
from django.contrib.auth.models import User

from vaults.models import LockRepair, ReleaseRun
from vaults.services.release import utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.admin import money_fingerprint

pytestmark = pytest.mark.django_db

ODD = ["²", "٣", "99999999999999999999", "-1", " 7 ", "1e3", "\u00a0", "0x10"]
SEARCHED = [
    "/admin/vaults/vestinglot/",
    "/admin/vaults/releaserun/",
    "/admin/vaults/lockrepair/",
    "/admin/ledger/operation/",
    "/admin/ledger/ledgerentry/",
    "/admin/ledger/account/",
    "/admin/ledger/walletlock/",
    "/admin/knox/authtoken/",
]


@pytest.fixture
def superuser_client(client, avenir):
    User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client.login(username="root", password="pw-for-tests-only")
    DepositFactory(release_day=utc_today())
    return client


@pytest.mark.parametrize("term", ODD)
def test_searches_answer_200_for_odd_terms(superuser_client, term):
    for url in SEARCHED:
        response = superuser_client.get(url, {"q": term})
        assert response.status_code == 200, (url, term, response.status_code)


@pytest.mark.parametrize("term", ODD)
def test_the_release_action_and_the_repair_form_ignore_odd_ids_and_change_nothing(superuser_client, term):
    before = money_fingerprint()
    for post in ({}, {"post": "yes"}):
        response = superuser_client.post(
            "/admin/vaults/vestinglot/",
            {"action": "release_selected", "_selected_action": [term], **post},
        )
        assert response.status_code in (200, 302), (term, response.status_code)
        response = superuser_client.post("/admin/vaults/vestinglot/audit/repair/", {"lock_id": [term], **post})
        assert response.status_code in (200, 302), (term, response.status_code)
    for path in (f"/admin/vaults/vestinglot/{term}/change/", f"/admin/vaults/releaserun/{term}/change/"):
        assert superuser_client.get(path).status_code in (200, 302, 404), path
    assert superuser_client.get("/admin/vaults/vestinglot/forecast/", {"days": term}).status_code == 200
    assert money_fingerprint() == before
    assert not ReleaseRun.objects.exists() and not LockRepair.objects.exists()
