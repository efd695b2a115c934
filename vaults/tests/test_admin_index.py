"""The admin index an operator lands on: named for them, correct labels, and the operator pages."""

import pytest
from django.contrib.auth.models import Permission

from ledger.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

AUDIT_URL = "/admin/vaults/vestinglot/audit/"
FORECAST_URL = "/admin/vaults/vestinglot/forecast/"


def staff_client(client, *perms: str):
    user = UserFactory(is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client.force_login(user)
    return client


def test_the_index_is_named_for_operators_and_has_no_dead_view_site_link(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get("/admin/").content.decode()

    assert "<title>Operations | Vancelian operations</title>" in page
    assert "Vancelian operations" in page and "Django administration" not in page
    assert "View site" not in page


def test_the_index_labels_models_with_correct_plurals(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get("/admin/").content.decode()

    assert "Ledger entries" in page and "Ledger entrys" not in page
    for label in ("Accounts", "Operations", "Wallet locks", "Vesting lots", "Release runs", "Lock repairs"):
        assert f">{label}<" in page, label


def test_the_index_links_the_lock_audit_and_the_forecast(client):
    staff = staff_client(client, "vaults.view_vestinglot", "ledger.view_walletlock")

    page = staff.get("/admin/").content.decode()

    assert f'href="{AUDIT_URL}"' in page
    assert f'href="{FORECAST_URL}"' in page
    assert staff.get(AUDIT_URL).status_code == 200


def test_the_audit_link_is_only_offered_to_who_may_open_it(client):
    staff = staff_client(client, "vaults.view_vestinglot")

    page = staff.get("/admin/").content.decode()

    assert f'href="{FORECAST_URL}"' in page
    assert AUDIT_URL not in page
