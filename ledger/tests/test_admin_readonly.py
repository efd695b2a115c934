"""The ledger in the admin: operations, entries, accounts and wallet locks can be listed and
viewed, never added, changed or deleted (even by a superuser), and delete_selected is gone."""

from datetime import timedelta

import pytest

from ledger.models import Account, LedgerEntry, Operation, WalletLock
from vaults.services.release import utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.admin import money_fingerprint

pytestmark = pytest.mark.django_db

MODELS = {
    "operation": Operation,
    "ledgerentry": LedgerEntry,
    "account": Account,
    "walletlock": WalletLock,
}


@pytest.fixture
def deposit(avenir):
    return DepositFactory(release_day=utc_today() + timedelta(days=3))


@pytest.mark.parametrize("name", MODELS)
def test_ledger_rows_can_be_listed_and_viewed_but_not_added_changed_or_deleted(admin_client, deposit, name):
    model = MODELS[name]
    obj = model.objects.order_by("pk").first()
    base = f"/admin/ledger/{name}/"
    before = money_fingerprint()

    listing = admin_client.get(base)
    assert listing.status_code == 200 and listing.context["cl"].result_count == model.objects.count()
    assert b"delete_selected" not in listing.content
    assert "delete_selected" not in listing.context["cl"].model_admin.get_actions(listing.wsgi_request)

    view = admin_client.get(f"{base}{obj.pk}/change/")
    assert view.status_code == 200
    assert b'name="_save"' not in view.content  # read-only view

    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}add/", {"currency": "AED"}).status_code == 403
    assert admin_client.post(f"{base}{obj.pk}/change/", {"currency": "EUR"}).status_code == 403
    assert admin_client.get(f"{base}{obj.pk}/delete/").status_code == 403
    assert admin_client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    # A forged delete_selected: not an action of this admin, nothing is deleted.
    admin_client.post(base, {"action": "delete_selected", "index": "0", "_selected_action": [obj.pk], "post": "yes"})

    assert money_fingerprint() == before


def test_operations_search_and_trace_filter(admin_client, deposit):
    op = Operation.objects.get(pk=deposit.operation_id)
    found = admin_client.get("/admin/ledger/operation/", {"q": str(op.pk)}).context["cl"].result_list
    assert [o.pk for o in found] == [op.pk]
    none = admin_client.get("/admin/ledger/operation/", {"trace_id": "job-avenir-vesting-20250127-abc12345"})
    assert none.status_code == 200 and none.context["cl"].result_count == 0
