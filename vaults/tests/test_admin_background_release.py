"""An admin bulk release above AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS goes to a real Celery worker
instead of running inside the web request; the result message links the run, whose page shows
its progress from the run row."""

import re

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.messages import get_messages

from vancelian.celery import app as celery_app
from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.services.release import utc_today
from vaults.tests.factories import DepositFactory, ReleaseRunFactory
from vaults.tests.support.admin import staff_user
from vaults.tests.support.concurrency import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/vaults/vestinglot/"


@pytest.fixture
def operator(client):
    staff_user("operator", "vaults.view_vestinglot", "vaults.release_vestinglot", "vaults.view_releaserun")
    client.login(username="operator", password="pw-for-tests-only")
    return client


def test_a_large_selection_is_released_by_the_worker_and_its_run_page_follows_it(avenir, operator, settings):
    settings.AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS = 2
    lot_ids = [DepositFactory(release_day=utc_today()).lot_id for _ in range(3)]
    form = {"action": "release_selected", "_selected_action": lot_ids}

    confirmation = operator.post(CHANGELIST, form)
    assert confirmation.status_code == 200
    assert 'class="help release-background"' in confirmation.content.decode()

    celery_app.control.purge()
    done = operator.post(CHANGELIST, {**form, "post": "yes"})
    assert done.status_code == 302
    [message] = [str(m) for m in get_messages(done.wsgi_request)]
    assert "3 lot(s) queued for the Celery worker" in message
    task_id = re.search(r"\?task_id=([0-9a-f-]+)", message).group(1)
    assert not ReleaseRun.objects.exists()  # nothing was released inside the request
    assert not VestingLot.objects.filter(status=LotStatus.RELEASED).exists()

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        run = wait_for(
            lambda: ReleaseRun.objects.filter(task_id=task_id).exclude(status=RunStatus.RUNNING).first(),
            timeout=60,
            what="the worker to release the selection",
        )
    assert (run.status, run.executed_count, run.selected_lots_count) == (RunStatus.SUCCEEDED, 3, 3)
    assert run.trigger == "admin" and run.actor == "operator"
    assert VestingLot.objects.filter(pk__in=lot_ids, status=LotStatus.RELEASED).count() == 3

    listed = operator.get(f"/admin/vaults/releaserun/?task_id={task_id}")
    assert listed.status_code == 200 and listed.context["cl"].result_count == 1
    page = operator.get(f"/admin/vaults/releaserun/{run.pk}/change/").content.decode()
    assert run.trace_id in page and "run-progress" not in page  # finished: no progress line


def test_the_page_of_a_running_run_shows_its_progress_and_refreshes(avenir, operator):
    run = ReleaseRunFactory(executed_count=2, selected_lots_count=5)
    page = operator.get(f"/admin/vaults/releaserun/{run.pk}/change/").content.decode()
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "2 lot(s) released so far of 5 selected" in page
