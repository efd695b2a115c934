"""Reversing releases from the admin: the permission vaults.reverse_release on every POST,
the form, the service's own dry run as the confirmation page, then the reversal."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from vaults.models import LotStatus, ReleaseRun, ReleaseTrigger, ReversalRun, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.admin import money_fingerprint, staff_user
from vaults.tests.support.database import assert_invariants

pytestmark = pytest.mark.django_db(transaction=True)

LOTS = "/admin/vaults/vestinglot/"
RUNS = "/admin/vaults/releaserun/"
FORM = {"reason": "vesting period typed as 1 day", "vesting_days": "400", "release_day": ""}


@pytest.fixture
def released(avenir) -> list[int]:
    ids = [DepositFactory(release_day=utc_today()).lot_id for _ in range(3)]
    release_matured_lots(currency="AED", workers=1)
    return ids


def login(client, username: str, *perms: str):
    staff_user(username, *perms)
    client.login(username=username, password="pw-for-tests-only")
    return client


@pytest.fixture
def reverser(client):
    return login(
        client,
        "reverser",
        "vaults.view_vestinglot",
        "vaults.view_releaserun",
        "vaults.view_reversalrun",
        "vaults.reverse_release",
    )


@pytest.fixture
def viewer(client):
    return login(client, "viewer", "vaults.view_vestinglot", "vaults.view_releaserun", "vaults.release_vestinglot")


def post(client, url: str, action: str, ids, **fields):
    return client.post(url, {"action": action, "index": "0", "_selected_action": [str(i) for i in ids], **fields})


def test_staff_without_the_permission_does_not_see_the_actions_and_forged_posts_get_403(viewer, released):
    assert "reverse_selected_lots" not in viewer.get(LOTS).content.decode()
    assert "reverse_selected_run" not in viewer.get(RUNS).content.decode()
    before = money_fingerprint()
    run = ReleaseRun.objects.get()
    for step in ({}, {"step": "preview", **FORM}, {"step": "confirm", **FORM}):
        assert post(viewer, LOTS, "reverse_selected_lots", released, **step).status_code == 403
        assert post(viewer, RUNS, "reverse_selected_run", [run.pk], **step).status_code == 403
    assert money_fingerprint() == before
    assert not ReversalRun.objects.exists()


def test_form_then_dry_run_then_reversal_of_selected_lots(reverser, released):
    form = post(reverser, LOTS, "reverse_selected_lots", released[:2])
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()

    missing = post(reverser, LOTS, "reverse_selected_lots", released[:2], step="preview", reason="x")
    assert "Give exactly one: a new release day, or vesting days." in missing.content.decode()

    before = money_fingerprint()
    preview = post(reverser, LOTS, "reverse_selected_lots", released[:2], step="preview", **FORM)
    page = preview.content.decode()
    assert preview.status_code == 200 and "Dry run" in page
    assert '<td class="will-reverse-count">2</td>' in page and "20,000.00 AED" in page
    assert money_fingerprint() == before  # a dry run moves nothing

    done = post(reverser, LOTS, "reverse_selected_lots", released[:2], step="confirm", **FORM)
    assert done.status_code == 302
    messages = [str(m) for m in get_messages(done.wsgi_request)]
    assert any("Reversed 2 release(s)" in m for m in messages), messages
    run = ReversalRun.objects.get()
    assert (run.trigger, run.actor, run.executed_count, run.reason) == (
        ReleaseTrigger.ADMIN,
        "reverser",
        2,
        FORM["reason"],
    )
    assert set(VestingLot.objects.filter(status=LotStatus.VESTED).values_list("pk", flat=True)) == set(released[:2])
    assert_invariants()


def test_the_permission_is_checked_again_on_the_confirming_post(reverser, released):
    assert post(reverser, LOTS, "reverse_selected_lots", released, step="preview", **FORM).status_code == 200
    permission = Permission.objects.get(codename="reverse_release")
    get_user_model().objects.get(username="reverser").user_permissions.remove(permission)
    reverser.login(username="reverser", password="pw-for-tests-only")
    assert post(reverser, LOTS, "reverse_selected_lots", released, step="confirm", **FORM).status_code == 403
    assert not ReversalRun.objects.exists()


def test_reversing_a_run_from_the_run_history(reverser, released):
    run = ReleaseRun.objects.get()
    two = post(reverser, RUNS, "reverse_selected_run", [run.pk, run.pk + 1000], step="preview", **FORM)
    assert two.status_code == 200  # the queryset drops the unknown id: one run remains
    preview = post(reverser, RUNS, "reverse_selected_run", [run.pk], step="preview", **FORM)
    assert '<td class="will-reverse-count">3</td>' in preview.content.decode()
    done = post(reverser, RUNS, "reverse_selected_run", [run.pk], step="confirm", **FORM)
    assert done.status_code == 302
    assert ReversalRun.objects.get().release_run_id == run.pk
    assert VestingLot.objects.filter(status=LotStatus.VESTED, reversal_count=1).count() == 3
    page = reverser.get(f"/admin/vaults/reversalrun/{ReversalRun.objects.get().pk}/change/")
    assert page.status_code == 200 and "Amount moved back to locked" in page.content.decode()


def test_the_lot_page_shows_its_releases_and_reversals(client, released):
    admin = login(client, "auditor", "vaults.view_vestinglot", "vaults.reverse_release")
    post(admin, LOTS, "reverse_selected_lots", released[:1], step="confirm", **FORM)
    page = admin.get(f"{LOTS}{released[0]}/change/").content.decode()
    assert 'class="lot-history"' in page and FORM["reason"] in page
