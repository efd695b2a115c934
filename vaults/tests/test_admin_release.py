"""The bulk release from the lots changelist: permissions, the confirmation page (a dry run
of exactly the selection) and the confirming POST, through the Django test client."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from ledger.models import LockStatus, WalletLock
from vaults.admin import release_action
from vaults.models import AVENIR_CODE, LotStatus, ReleaseRun, ReleaseTrigger, Vault, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.admin import money_fingerprint, staff_user
from vaults.tests.support.database import assert_invariants

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/vaults/vestinglot/"


@pytest.fixture
def lots(avenir):
    today = utc_today()
    matured = [DepositFactory(release_day=today), DepositFactory(release_day=today - timedelta(days=2))]
    future = DepositFactory(release_day=today + timedelta(days=5))
    return matured, future


@pytest.fixture
def operator(client):
    staff_user("operator", "vaults.view_vestinglot", "vaults.release_vestinglot")
    client.login(username="operator", password="pw-for-tests-only")
    return client


@pytest.fixture
def viewer(client):
    staff_user("viewer", "vaults.view_vestinglot")
    client.login(username="viewer", password="pw-for-tests-only")
    return client


def choose_action(client, lot_ids):
    """The changelist form: the action and the ticked lots (the first POST)."""
    return client.post(
        CHANGELIST,
        {"action": "release_selected", "index": "0", "select_across": "0", "_selected_action": lot_ids},
    )


def confirm(client, lot_ids):
    """The confirmation page's form (the second POST)."""
    return client.post(CHANGELIST, {"action": "release_selected", "post": "yes", "_selected_action": lot_ids})


def statuses(*deposits) -> list[str]:
    return [VestingLot.objects.get(pk=d.lot_id).status for d in deposits]


def test_staff_without_the_permission_does_not_see_the_action(viewer, lots):
    response = viewer.get(CHANGELIST)
    assert response.status_code == 200
    assert b'value="release_selected"' not in response.content
    assert "release_selected" not in response.context["cl"].model_admin.get_actions(response.wsgi_request)


def test_operator_sees_the_action(operator, lots):
    response = operator.get(CHANGELIST)
    assert response.status_code == 200 and b'value="release_selected"' in response.content


def test_forged_posts_without_the_permission_get_403_and_move_nothing(viewer, lots):
    matured, future = lots
    ids = [d.lot_id for d in (*matured, future)]
    before = money_fingerprint()

    assert choose_action(viewer, ids).status_code == 403
    assert confirm(viewer, ids).status_code == 403

    assert money_fingerprint() == before
    assert statuses(*matured, future) == [LotStatus.VESTED] * 3
    assert not ReleaseRun.objects.exists()


def test_confirmation_page_shows_the_dry_run_of_exactly_the_selection(operator, lots):
    matured, future = lots
    DepositFactory(release_day=utc_today())  # matured but not selected: not in the summary
    before = money_fingerprint()

    response = choose_action(operator, [matured[0].lot_id, future.lot_id])

    assert response.status_code == 200
    assert "admin/vaults/vestinglot/release_confirmation.html" in [t.name for t in response.templates]
    (section,) = response.context["sections"]
    summary = section["summary"]
    assert summary.dry_run and summary.currency == "AED"
    assert (summary.executed_count, section["amount"]) == (1, "10,000.00 AED")
    assert section["not_matured"] == [future.lot_id]
    assert (summary.locks_closed_count, summary.locks_missing_count) == (1, 0)
    outcomes = {row["lot"].pk: (row["outcome"], row["lock"]) for row in section["lots"]}
    assert outcomes == {
        matured[0].lot_id: ("will be released", f"#{matured[0].lock_id} closes"),
        future.lot_id: ("refused: not matured", ""),
    }
    html = response.content.decode()
    assert 'name="post" value="yes"' in html and "Yes, release the matured lots" in html
    assert sorted(map(int, re.findall(r'name="_selected_action" value="(\d+)"', html))) == sorted(
        [matured[0].lot_id, future.lot_id]
    )
    assert money_fingerprint() == before  # the dry run wrote nothing


def test_confirming_releases_only_the_matured_lots_of_the_selection(operator, lots):
    matured, future = lots
    future_day = VestingLot.objects.get(pk=future.lot_id).release_day
    response = confirm(operator, [d.lot_id for d in (*matured, future)])

    assert response.status_code == 302
    assert statuses(*matured, future) == [LotStatus.RELEASED, LotStatus.RELEASED, LotStatus.VESTED]
    assert [WalletLock.objects.get(pk=d.lock_id).status for d in (*matured, future)] == [
        LockStatus.RELEASED,
        LockStatus.RELEASED,
        LockStatus.ACTIVE,
    ]
    run = ReleaseRun.objects.get()
    assert (run.trigger, run.actor, run.executed_count, run.selected_lots_count) == (
        ReleaseTrigger.ADMIN,
        "operator",
        2,
        3,
    )
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(
        "Released 2 lot(s), 20,000.00 AED" in t and run.trace_id in t and f"/admin/vaults/releaserun/{run.pk}/" in t
        for t in texts
    ), texts
    assert f"Not released (1): lot {future.lot_id}: not matured (release day {future_day:%Y-%m-%d})." in texts
    assert_invariants()


def test_the_permission_is_checked_again_on_the_confirming_post(operator, lots):
    matured, _ = lots
    assert choose_action(operator, [matured[0].lot_id]).status_code == 200
    Permission.objects.get(codename="release_vestinglot").user_set.clear()
    before = money_fingerprint()

    assert confirm(operator, [matured[0].lot_id]).status_code == 403
    assert money_fingerprint() == before


def test_a_missing_lock_is_announced_and_the_release_still_happens(operator, avenir):
    deposit = DepositFactory(release_day=utc_today())
    # The lock was closed by hand: neither the direct link nor the fallback finds an ACTIVE one.
    WalletLock.objects.filter(pk=deposit.lock_id).update(status=LockStatus.RELEASED, released_at="2025-01-27T00:00Z")

    response = choose_action(operator, [deposit.lot_id])
    (section,) = response.context["sections"]
    assert (section["summary"].locks_closed_count, section["summary"].locks_missing_count) == (0, 1)
    assert section["lots"][0]["lock"].startswith("missing")

    confirm(operator, [deposit.lot_id])
    assert statuses(deposit) == [LotStatus.RELEASED]
    assert ReleaseRun.objects.get().summary["summary"]["locks_missing_count"] == 1


def test_a_selection_with_nothing_matured_releases_nothing(operator, lots):
    _, future = lots
    response = choose_action(operator, [future.lot_id])
    assert b"Nothing in this selection can be released today." in response.content

    confirm(operator, [future.lot_id])
    assert statuses(future) == [LotStatus.VESTED]
    assert WalletLock.objects.get(pk=future.lock_id).status == LockStatus.ACTIVE
    assert not ReleaseRun.objects.exists()
    assert_invariants()


@pytest.fixture
def release_calls(monkeypatch):
    """Every call the admin makes to the release service, passed through to it."""
    calls = []

    def spy(**kwargs):
        calls.append(kwargs)
        return release_matured_lots(**kwargs)

    monkeypatch.setattr(release_action, "release_matured_lots", spy)
    return calls


def test_confirming_a_selection_with_nothing_releasable_names_each_reason_and_records_no_run(
    operator, lots, release_calls
):
    """Released, not matured and vanished lots, confirmed anyway (a stale confirmation page):
    a reason per lot, no call to the release service, no run row, nothing moved."""
    matured, future = lots
    released = matured[0]
    release_matured_lots(currency="AED", lot_ids=[released.lot_id], trigger=ReleaseTrigger.CLI, actor="earlier")
    ReleaseRun.objects.all().delete()
    vanished = max(VestingLot.objects.values_list("pk", flat=True)) + 1000
    future_day = VestingLot.objects.get(pk=future.lot_id).release_day
    before = money_fingerprint()

    response = confirm(operator, [released.lot_id, future.lot_id, vanished])

    assert response.status_code == 302
    assert release_calls == []
    assert not ReleaseRun.objects.exists()
    assert money_fingerprint() == before
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert texts == [
        "Nothing was released: none of the 3 selected lot(s) can be released today. No release run was recorded.",
        f"Not released (3): lot {released.lot_id}: already released; "
        f"lot {future.lot_id}: not matured (release day {future_day:%Y-%m-%d}); lot {vanished}: not found.",
    ]


def test_a_currency_with_nothing_releasable_gets_no_run_while_another_releases(operator, lots, release_calls):
    Vault.objects.create(code=AVENIR_CODE, currency="EUR", product_label="COFFRE AVENIR", vesting_days=365)
    matured, _ = lots
    eur_future = DepositFactory(currency="EUR", release_day=utc_today() + timedelta(days=3))

    confirm(operator, [matured[0].lot_id, eur_future.lot_id])

    assert [call["currency"] for call in release_calls] == ["AED"]
    assert list(ReleaseRun.objects.values_list("currency", flat=True)) == ["AED"]
    assert statuses(matured[0], eur_future) == [LotStatus.RELEASED, LotStatus.VESTED]


def test_the_confirmation_page_lists_lots_that_vanished(operator, lots):
    matured, _ = lots
    vanished = max(VestingLot.objects.values_list("pk", flat=True)) + 1000

    response = choose_action(operator, [matured[0].lot_id, vanished])

    assert response.context["vanished"] == [vanished]
    assert f"Lots {vanished} no longer exist" in response.content.decode()
