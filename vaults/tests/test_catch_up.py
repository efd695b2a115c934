"""The catch-up (every 30 seconds): it finishes a due day that no live run is finishing, and
otherwise does nothing and records nothing."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django_celery_beat.models import PeriodicTask

from vaults.exceptions import InvalidRelease
from vaults.models import LotStatus, ReleaseRun, ReleaseTrigger, RunStatus, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.services.release.catch_up import (
    FINISHED,
    NOT_DUE,
    NOTHING_PENDING,
    RELEASED,
    RUNNING,
    SCHEDULE_OFF,
    catch_up_release,
)
from vaults.services.release.clock import database_now
from vaults.services.schedule import SCHEDULE_NAME, ensure_avenir_schedule
from vaults.tasks import catch_up_avenir_vesting
from vaults.tests.factories import DepositFactory, ReleaseRunFactory
from vaults.tests.support.database import assert_invariants
from vaults.tests.support.ledger import unlock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def schedule():
    ensure_avenir_schedule()


def stale(settings) -> datetime:
    return database_now() - timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS + 5)


def released() -> set[int]:
    return set(VestingLot.objects.filter(status=LotStatus.RELEASED).values_list("pk", flat=True))


def test_nothing_pending_records_nothing(avenir):
    DepositFactory(release_day=utc_today() + timedelta(days=1))  # not matured
    checked = catch_up_release(currency="AED")
    assert checked.action == NOTHING_PENDING and checked.summary is None
    assert not ReleaseRun.objects.exists()


def test_a_dead_run_of_the_day_is_taken_over_and_the_day_finished(avenir, settings):
    today = utc_today()
    lots = [DepositFactory(release_day=today) for _ in range(3)]
    dead = ReleaseRunFactory(as_of=today, started_at=stale(settings), heartbeat_at=stale(settings))

    checked = catch_up_release(currency="AED", task_id="t-1")

    assert checked.action == RELEASED and checked.summary.executed_count == 3
    dead.refresh_from_db()
    assert dead.status == RunStatus.ABANDONED and checked.summary.trace_id in dead.error
    run = ReleaseRun.objects.get(pk=checked.summary.run_id)
    assert (run.trigger, run.status, run.actor, run.task_id) == (
        ReleaseTrigger.CATCH_UP,
        RunStatus.SUCCEEDED,
        "catch-up:t-1",
        "t-1",
    )
    assert released() == {lot.lot_id for lot in lots}
    assert catch_up_release(currency="AED").action == NOTHING_PENDING  # and then it is quiet again
    assert ReleaseRun.objects.count() == 2
    assert_invariants()


def test_a_live_run_is_left_alone(avenir):
    today = utc_today()
    DepositFactory(release_day=today)
    live = ReleaseRunFactory(as_of=today, heartbeat_at=database_now())
    checked = catch_up_release(currency="AED")
    assert checked.action == RUNNING and live.trace_id in checked.reason
    assert list(ReleaseRun.objects.all()) == [live] and not released()


def test_before_the_scheduled_time_and_its_grace_nothing_is_done(avenir, settings):
    """The daily run (00:05 UTC) has the first chance: until a lease after it, with no run
    of the day yet, the catch-up waits."""
    today = utc_today()
    DepositFactory(release_day=today)
    at = datetime.combine(today, time(0, 5), tzinfo=UTC)
    lease = timedelta(seconds=settings.AVENIR_RELEASE_LEASE_SECONDS)
    assert catch_up_release(currency="AED", now=at + lease - timedelta(seconds=1)).action == NOT_DUE
    assert not ReleaseRun.objects.exists()
    checked = catch_up_release(currency="AED", now=at + lease + timedelta(seconds=1))
    assert checked.action == RELEASED and checked.summary.executed_count == 1


def test_lots_a_finished_run_failed_are_not_retried_by_the_catch_up(avenir):
    today = utc_today()
    DepositFactory(release_day=today)
    short = DepositFactory(release_day=today)
    unlock(VestingLot.objects.get(pk=short.lot_id).user, "1.00", "manual-unlock")  # locked < the lot
    summary = release_matured_lots(currency="AED", trigger=ReleaseTrigger.SCHEDULE)
    assert (summary.executed_count, summary.errors_count) == (1, 1)  # it still pends, for an operator
    checked = catch_up_release(currency="AED")
    assert checked.action == FINISHED and checked.summary is None
    assert ReleaseRun.objects.count() == 1


def test_a_disabled_daily_schedule_stops_the_catch_up(avenir, settings):
    today = utc_today()
    DepositFactory(release_day=today)
    ReleaseRunFactory(as_of=today, started_at=stale(settings), heartbeat_at=stale(settings))
    PeriodicTask.objects.filter(name=SCHEDULE_NAME).update(enabled=False)
    assert catch_up_release(currency="AED").action == SCHEDULE_OFF
    assert ReleaseRun.objects.get().status == RunStatus.RUNNING and not released()


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"currency": 1}, "currency must be a string"), ({"day": 1}, "unknown")]
)
def test_the_catch_up_task_refuses_bad_kwargs(avenir, kwargs, message):
    result = catch_up_avenir_vesting.apply(kwargs=kwargs)
    assert result.failed() and isinstance(result.result, InvalidRelease) and message in str(result.result)
    assert not ReleaseRun.objects.exists()
