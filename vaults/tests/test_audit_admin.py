"""The lock audit page and its one repair (close the ACTIVE lock of a RELEASED lot)."""

import re

import pytest
from django.contrib.messages import get_messages

from ledger.models import LockStatus, WalletLock
from vaults.models import LockRepair, VestingLot
from vaults.selectors import lock_audit as audit
from vaults.services.repair import close_locks_of_released_lots
from vaults.tests.support.admin import money_fingerprint, seed_every_inconsistency, staff_user

pytestmark = pytest.mark.django_db(transaction=True)

AUDIT = "/admin/vaults/vestinglot/audit/"
REPAIR = "/admin/vaults/vestinglot/audit/repair/"
AUDITOR_PERMS = ("vaults.view_vestinglot", "ledger.view_walletlock")


def login(client, username, *perms):
    staff_user(username, *perms)
    client.login(username=username, password="pw-for-tests-only")
    return client


@pytest.fixture
def seeded(avenir):
    return seed_every_inconsistency()


def test_audit_page_needs_the_model_permissions(client, seeded):
    login(client, "lots-only", "vaults.view_vestinglot")
    assert client.get(AUDIT).status_code == 403
    client.logout()
    assert client.get(AUDIT).status_code == 302  # anonymous: to the login page


def test_audit_page_lists_every_kind_with_counts_and_links(client, seeded):
    login(client, "auditor", *AUDITOR_PERMS)
    response = client.get(AUDIT)
    assert response.status_code == 200
    report = response.context["report"]
    assert all(group.count > 0 for group in report.groups)
    html = response.content.decode()
    for group in report.groups:
        assert f'class="count-{group.kind}">{group.count}<' in html
    assert f"/admin/vaults/vestinglot/{seeded.released_lot}/change/" in html
    assert f"/admin/ledger/walletlock/{seeded.orphan_lock}/change/" in html
    assert 'name="lock_id"' not in html  # no repair permission: no repair form

    eur = client.get(AUDIT, {"currency": "EUR"})
    assert eur.context["report"].consistent and b"Consistent" in eur.content


def test_repair_without_the_permission_is_403_and_changes_nothing(client, seeded):
    login(client, "auditor", *AUDITOR_PERMS)
    before = money_fingerprint()
    assert client.post(REPAIR, {"lock_id": [seeded.released_lot_lock], "post": "yes"}).status_code == 403
    assert money_fingerprint() == before


def test_repair_confirms_then_closes_the_lock_and_records_it(client, seeded):
    login(client, "repairer", *AUDITOR_PERMS, "vaults.repair_wallet_lock", "vaults.view_lockrepair")
    page = client.get(AUDIT).content.decode()
    assert f'name="lock_id" value="{seeded.released_lot_lock}"' in page

    confirmation = client.post(REPAIR, {"lock_id": [seeded.released_lot_lock]})
    assert confirmation.status_code == 200 and b"Yes, close these locks" in confirmation.content
    assert WalletLock.objects.get(pk=seeded.released_lot_lock).status == LockStatus.ACTIVE

    response = client.post(REPAIR, {"lock_id": [seeded.released_lot_lock], "post": "yes"})
    assert response.status_code == 302 and response["Location"] == AUDIT
    lock = WalletLock.objects.get(pk=seeded.released_lot_lock)
    lot = VestingLot.objects.get(pk=seeded.released_lot)
    assert lock.status == LockStatus.RELEASED and lock.released_at is not None
    assert lock.release_operation_id == lot.last_release_operation_id
    repair = LockRepair.objects.get()
    assert (repair.lock_id, repair.lot_id, repair.actor, str(repair.amount)) == (
        lock.pk,
        lot.pk,
        "repairer",
        "10000.00",
    )
    assert re.fullmatch(r"repair-avenir-locks-\d{8}-[0-9a-f]{8}", repair.trace_id)
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(repair.trace_id in t and f"#{lock.pk}" in t for t in texts), texts

    report = audit.audit_avenir_locks()
    assert report.group(audit.RELEASED_LOT_ACTIVE_LOCK).count == 0
    assert lot.user_id not in {f.user_id for f in report.group(audit.LOCKED_BALANCE_MISMATCH).findings}
    assert client.get(f"/admin/vaults/lockrepair/?q={repair.trace_id}").context["cl"].result_count == 1


def test_repair_refuses_every_lock_that_is_not_the_safe_case(avenir):
    s = seed_every_inconsistency()
    vested_lock = WalletLock.objects.filter(status=LockStatus.ACTIVE, operation__isnull=False).exclude(
        pk__in=[s.released_lot_lock, s.orphan_lock]
    )[0]
    before = {lock.pk: lock.status for lock in WalletLock.objects.all()}

    result = close_locks_of_released_lots(
        lock_ids=[vested_lock.pk, s.orphan_lock, s.released_lock, s.fallback_lock, 999_999], actor="t"
    )

    assert result.repaired == ()
    assert {r.lock_id: r.reason for r in result.refused} == {
        vested_lock.pk: "NO_RELEASED_LOT",
        s.orphan_lock: "NO_RELEASED_LOT",
        s.released_lock: "NOT_ACTIVE",
        s.fallback_lock: "NO_RELEASED_LOT",
        999_999: "NOT_FOUND",
    }
    assert {lock.pk: lock.status for lock in WalletLock.objects.all()} == before
    assert not LockRepair.objects.exists()
