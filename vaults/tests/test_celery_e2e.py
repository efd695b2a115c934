"""End to end: redis-server, a `celery worker` and a `celery beat` (DatabaseScheduler)
subprocess, started with the commands of docker-compose.yml, against the test database.

The schedule is edited in the database as the admin does (model save), so beat picks
it up within seconds; then it is disabled and no further run happens.
"""

import json
import time
from datetime import timedelta

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from vancelian.celery import app as celery_app
from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.services.release import utc_today
from vaults.services.schedule import CATCH_UP_NAME, SCHEDULE_NAME, ensure_avenir_schedule
from vaults.tests.factories import DepositFactory
from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.database import assert_invariants
from vaults.tests.support.stack import local_argv, running, service_command, subprocess_env

EVERY_SECONDS = 2


def json_lines(path) -> list[dict]:
    found = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


NOTHING_TO_DO = "release task: the day is already released; nothing to do"


def dispatches_handled(worker_log) -> int:
    """Scheduled messages the worker handled: real runs and checks that found the day released."""
    events = {"release task finished", NOTHING_TO_DO}
    return sum(1 for e in json_lines(worker_log) if e.get("event") in events)


def scheduled_runs():
    return ReleaseRun.objects.filter(trigger="schedule").order_by("started_at")


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)
def test_beat_and_worker_release_from_the_database_schedule(avenir, tmp_path):
    today = utc_today()
    due = [
        DepositFactory(release_day=today - timedelta(days=1)),
        *(DepositFactory(release_day=today) for _ in range(2)),
    ]
    later = DepositFactory(release_day=today + timedelta(days=5))
    ensure_avenir_schedule()  # transactional tests truncate the table migrate filled
    celery_app.control.purge()

    env = subprocess_env()
    worker_argv = local_argv(service_command("worker"))
    # Test only: beat re-reads the schedule every second instead of every 5.
    beat_argv = [*local_argv(service_command("beat")), "--max-interval=1"]
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    try:
        with (
            running(worker_argv, env=env, log_path=worker_log) as worker,
            running(beat_argv, env=env, log_path=beat_log) as beat,
        ):
            wait_for(lambda: b"beat: Starting" in beat_log.read_bytes(), timeout=30, what="beat to start")
            assert not scheduled_runs().exists()  # 00:05 UTC daily: nothing due now
            # django-celery-beat starts comparing change timestamps at its first check after the
            # initial read: an edit before that check waits for its 5-minute full sync. Let beat
            # tick a few times (--max-interval=1) before the operator's edit.
            time.sleep(4)

            # The operator makes it fire every few seconds (admin: change the schedule, save).
            task = PeriodicTask.objects.get(name=SCHEDULE_NAME)
            task.interval = IntervalSchedule.objects.create(every=EVERY_SECONDS, period=IntervalSchedule.SECONDS)
            task.crontab = None
            task.save()

            first = wait_for(
                lambda: scheduled_runs().exclude(status=RunStatus.RUNNING).first(),
                timeout=45,
                what="beat to dispatch and the worker to run the release",
            )
            assert first.status == RunStatus.SUCCEEDED, first.error
            assert first.executed_count == 3 and first.as_of == today
            assert first.task_id and first.actor == f"celery:{first.task_id}"
            assert set(VestingLot.objects.filter(pk__in=[d.lot_id for d in due]).values_list("status", flat=True)) == {
                LotStatus.RELEASED
            }
            assert VestingLot.objects.get(pk=later.lot_id).status == LotStatus.VESTED
            # It keeps firing: the day is released, so the next dispatches do nothing and
            # record no run (they do not crowd the history or hide the real run).
            wait_for(lambda: dispatches_handled(worker_log) >= 3, timeout=20, what="more scheduled dispatches")
            assert list(scheduled_runs()) == [first]

            # Disable it, as in the admin: beat stops sending.
            task.refresh_from_db()
            task.enabled = False
            task.save()
            time.sleep(EVERY_SECONDS + 2)  # beat sees the change within 1 s; let an in-flight dispatch finish
            settled = dispatches_handled(worker_log)
            time.sleep(EVERY_SECONDS * 3)
            assert dispatches_handled(worker_log) == settled, "a disabled schedule must not dispatch"
            assert list(scheduled_runs()) == [first]

            assert worker.poll() is None and beat.poll() is None, "worker and beat must still be running"
            # Beat added nothing of its own: the schedule is only what the database holds.
            assert set(PeriodicTask.objects.values_list("name", flat=True)) == {SCHEDULE_NAME, CATCH_UP_NAME}
        assert_invariants()
        # The worker logs the project's JSON lines, with the run's trace_id and the task id.
        finished = [e for e in json_lines(worker_log) if e.get("event") == "release task finished"]
        assert any(e["trace_id"] == first.trace_id and e["task_id"] == first.task_id for e in finished), finished
    except BaseException:
        print("--- worker log ---\n", worker_log.read_text(errors="replace")[-6000:])
        print("--- beat log ---\n", beat_log.read_text(errors="replace")[-6000:])
        raise
