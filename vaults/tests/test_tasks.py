"""The Celery task behind the schedule: a real worker, PostgreSQL, the run lease against
double dispatch, missed days, failures and strictly read kwargs."""

from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection, transaction

from ledger.exceptions import UnknownCurrency
from vancelian.celery import app as celery_app
from vaults.exceptions import FutureAsOf, InvalidRelease
from vaults.models import LotStatus, ReleaseRun, RunStatus, VestingLot
from vaults.services.release import utc_today
from vaults.tasks import release_avenir_vesting, release_selected_avenir_lots
from vaults.tests.factories import DepositFactory
from vaults.tests.support.concurrency import in_thread, wait_for
from vaults.tests.support.database import assert_invariants

pytestmark = pytest.mark.pooler
LOTS_TABLE = VestingLot._meta.db_table


def events(caplog, name: str) -> list:
    return [r for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == name]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_task_against_postgres(avenir):
    today = utc_today()
    deposits = [DepositFactory(release_day=today - timedelta(days=1)), DepositFactory(release_day=today)]
    celery_app.control.purge()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        sent = release_avenir_vesting.delay(currency="AED")  # as beat sends it: kwargs only
        run = wait_for(
            lambda: ReleaseRun.objects.filter(task_id=sent.id).exclude(status=RunStatus.RUNNING).first(),
            timeout=30,
            what="the worker to finish the run",
        )
    assert run.status == RunStatus.SUCCEEDED
    assert run.trigger == "schedule"
    assert run.actor == f"celery:{sent.id}"
    assert run.as_of == today  # as_of=None: the UTC date at execution
    assert run.executed_count == 2 and run.exit_code == 0
    assert run.summary["trace_id"] == run.trace_id
    lots = VestingLot.objects.filter(pk__in=[d.lot_id for d in deposits])
    assert set(lots.values_list("status", flat=True)) == {LotStatus.RELEASED}
    assert_invariants()


@pytest.mark.django_db(transaction=True)
def test_missed_days_are_caught_up_by_the_next_run(avenir, caplog):
    today = utc_today()
    missed = [DepositFactory(release_day=today - timedelta(days=n)) for n in (3, 2, 1)]
    due_today = DepositFactory(release_day=today)
    not_yet = DepositFactory(release_day=today + timedelta(days=1))

    result = release_avenir_vesting.apply(kwargs={"currency": "AED"})
    summary = result.get()
    assert summary["as_of"] == today.isoformat()
    assert summary["summary"]["executed_count"] == 4
    released = VestingLot.objects.filter(status=LotStatus.RELEASED).values_list("pk", flat=True)
    assert set(released) == {d.lot_id for d in [*missed, due_today]}
    assert VestingLot.objects.get(pk=not_yet.lot_id).status == LotStatus.VESTED
    [finished] = events(caplog, "release task finished")
    assert finished.msg["trace_id"] == summary["trace_id"] and finished.msg["task_id"] == result.id

    # Replaying (a redelivered message, a second beat later on): the day is released, so
    # nothing is done and no run is recorded.
    again = release_avenir_vesting.apply(kwargs={"currency": "AED", "as_of": today.isoformat()}).get()
    assert again == {"action": "nothing_to_do", "currency": "AED", "as_of": today.isoformat(), "exit_code": 0}
    assert ReleaseRun.objects.filter(trigger="schedule", status=RunStatus.SUCCEEDED).count() == 1
    assert_invariants()


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_dispatches_give_one_run_and_one_already_running(avenir):
    today = utc_today()
    deposits = [DepositFactory(release_day=today) for _ in range(3)]

    with transaction.atomic():
        # Hold the first dispatch inside its lease: it blocks reading the lots we lock here.
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {LOTS_TABLE} IN ACCESS EXCLUSIVE MODE")
        first, first_out = in_thread(lambda: release_avenir_vesting.apply(kwargs={"currency": "AED"}).get())
        run = wait_for(
            lambda: ReleaseRun.objects.filter(status=RunStatus.RUNNING).first(),
            timeout=15,
            what="the first dispatch to start its run",
        )
        second, second_out = in_thread(lambda: release_avenir_vesting.apply(kwargs={"currency": "AED"}).get())
        second.join(timeout=15)
        assert not second.is_alive(), "the second dispatch must return at once, not wait"
        assert first.is_alive(), "the first dispatch is still held inside its lease"
    first.join(timeout=30)
    assert not first.is_alive()

    assert "error" not in first_out and "error" not in second_out, (first_out, second_out)
    busy = second_out["result"]
    assert busy["already_running"] is True
    assert busy["summary"]["executed_count"] == 0
    done = first_out["result"]
    assert done["already_running"] is False and done["summary"]["executed_count"] == 3
    # One real run, recorded; the "already running" dispatch wrote nothing.
    run.refresh_from_db()
    assert list(ReleaseRun.objects.values_list("pk", flat=True)) == [run.pk]
    assert run.status == RunStatus.SUCCEEDED and run.trace_id == done["trace_id"]
    assert VestingLot.objects.filter(pk__in=[d.lot_id for d in deposits], status=LotStatus.RELEASED).count() == 3
    assert_invariants()


@pytest.mark.django_db(transaction=True)
def test_a_failing_run_is_recorded_failed_and_logged(avenir, caplog, settings):
    DepositFactory(release_day=utc_today())
    settings.AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS = 0.3

    def dispatch_with_lock_timeout():
        return release_avenir_vesting.apply(kwargs={"currency": "AED"})

    with transaction.atomic():
        # A real database failure mid-run: the lots table is locked away from the task.
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {LOTS_TABLE} IN ACCESS EXCLUSIVE MODE")
        thread, out = in_thread(dispatch_with_lock_timeout)
        thread.join(timeout=30)
    assert not thread.is_alive()
    result = out["result"]
    assert result.failed()
    assert "lock timeout" in str(result.result)

    run = ReleaseRun.objects.get()
    assert run.status == RunStatus.FAILED and run.exit_code == 1
    assert run.task_id == result.id and run.trigger == "schedule"
    assert "lock timeout" in run.error
    [logged] = events(caplog, "release task failed")
    assert logged.levelname == "ERROR" and logged.exc_info is not None
    assert logged.msg["task_id"] == result.id
    assert VestingLot.objects.get().status == LotStatus.VESTED  # nothing half-done


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"as_of": "2025-13-40"}, InvalidRelease, "as_of must be null or a date"),
        ({"as_of": ""}, InvalidRelease, "as_of must be null or a date"),
        ({"as_of": 20261201}, InvalidRelease, "as_of must be null or a date"),
        ({"as_of": "TOMORROW"}, FutureAsOf, "never released before maturity"),
        ({"currency": "XXX"}, UnknownCurrency, "unknown currency 'XXX'"),
        ({"currency": 784}, InvalidRelease, "currency must be a string"),
        ({"dry_run": "false"}, InvalidRelease, "dry_run must be a JSON boolean"),
        ({"dry_run": 0}, InvalidRelease, "dry_run must be a JSON boolean"),
        ({"dryrun": True}, InvalidRelease, "unknown task argument(s) dryrun"),
    ],
)
def test_bad_kwargs_are_refused_logged_and_change_nothing(avenir, caplog, kwargs, error, message):
    """The schedule's kwargs are typed by hand in the admin: `{"dry_run": "false"}` must not
    become a silent dry run every day."""
    DepositFactory(release_day=utc_today())
    kwargs = {k: (utc_today() + timedelta(days=1)).isoformat() if v == "TOMORROW" else v for k, v in kwargs.items()}
    result = release_avenir_vesting.apply(kwargs=kwargs)
    assert result.failed() and isinstance(result.result, error) and message in str(result.result), result.result
    [refused] = events(caplog, "release task refused")
    assert refused.levelname == "ERROR" and message in refused.msg["error"]
    assert not ReleaseRun.objects.exists()
    assert not VestingLot.objects.filter(status=LotStatus.RELEASED).exists()


@pytest.mark.django_db(transaction=True)
def test_the_task_verifies_the_ledger_after_a_release_and_logs_a_violation(avenir, caplog):
    DepositFactory(release_day=utc_today())
    release_avenir_vesting.apply(kwargs={"currency": "AED"}).get()
    [verified] = events(caplog, "ledger verified after the release")
    assert verified.msg["currency"] == "AED"

    # A balance that no longer equals its entries (written around the ledger's triggers).
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_accounts DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE ledger_accounts SET balance = balance + 1 WHERE id = (SELECT min(id) FROM ledger_accounts)"
        )
        cursor.execute("ALTER TABLE ledger_accounts ENABLE TRIGGER USER")
    DepositFactory(release_day=utc_today())
    summary = release_avenir_vesting.apply(kwargs={"currency": "AED"}).get()
    assert summary["summary"]["executed_count"] == 1  # the release itself is not undone
    [violated] = [
        r for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"].startswith("LEDGER INVARIANT")
    ]
    assert violated.levelname == "ERROR" and violated.msg["violations"] >= 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"currency": "AED", "lot_ids": "1,2", "actor": "ops"}, "lot_ids must be a non-empty list"),
        ({"currency": "AED", "lot_ids": [], "actor": "ops"}, "lot_ids must be a non-empty list"),
        ({"currency": "AED", "lot_ids": [True], "actor": "ops"}, "lot_ids must be a non-empty list"),
        ({"currency": "AED", "lot_ids": "DEPOSIT", "actor": ""}, "actor must name who asked"),
        ({"currency": None, "lot_ids": "DEPOSIT", "actor": "ops"}, "currency must be a string"),
    ],
)
def test_the_selection_task_refuses_bad_kwargs_and_changes_nothing(avenir, caplog, kwargs, message):
    deposit = DepositFactory(release_day=utc_today())
    if kwargs["lot_ids"] == "DEPOSIT":  # a real, releasable lot: only the other argument is wrong
        kwargs["lot_ids"] = [deposit.lot_id]
    result = release_selected_avenir_lots.apply(kwargs=kwargs)
    assert result.failed() and isinstance(result.result, InvalidRelease) and message in str(result.result)
    assert events(caplog, "release task refused")
    assert not ReleaseRun.objects.exists()
    assert not VestingLot.objects.filter(status=LotStatus.RELEASED).exists()
