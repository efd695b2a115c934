"""The day finishes by itself: one production fault per scenario, injected into a real run.

The production shape runs on this machine (vaults/tests/support/chaos.py): PostgreSQL,
PgBouncer in transaction pooling mode, an append-only redis-server, the compose worker
(2 processes) and beat, with the production settings of .env.example. Each scenario seeds
CHAOS_LOTS matured lots (20,000 by default; `scripts/chaos.sh --lots N` sets it), sends the
scheduled task as beat does at 00:05, and once the run has committed some chunks injects
one fault:
- SIGKILL of the worker and its pool processes, restarted at once as a supervisor would;
- `pg_ctl restart -m immediate` of the server;
- a PgBouncer restart;
- a redis-server restart;
- SIGSTOP of the worker process running the task, for longer than the lease, then SIGCONT
  once another run has taken over;
- `idle_session_timeout` of 2 s on the server, for the whole run.

Each asserts the goal: every matured lot released within 180 s of the fault ending, with
no human action, none twice; every run row of the day exact (its executed_count is the
number of operations carrying its trace id) and finished; verify_ledger and
avenir_schedule_status both exit 0. Each prints its row in the table at the end.
"""

import os
import signal
import time

import pytest

from vaults.tests.support.chaos import REPORT, ChaosStack, chaos_stack
from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.production import env_example

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]

LOTS = int(os.environ.get("CHAOS_LOTS", "20000"))
GOAL_SECONDS = 180
VESTING_DAYS = 365

SCENARIOS = {
    "worker SIGKILL": "kill",
    "PostgreSQL restart (immediate)": "postgres",
    "PgBouncer restart": "pgbouncer",
    "redis-server restart": "redis",
    "worker SIGSTOP past the lease": "freeze",
    "idle_session_timeout=2s": "idle",
}


@pytest.fixture(scope="module")
def stack():
    with chaos_stack() as stack:
        # At least 20 chunks, so the fault falls mid-run; the default size from 100,000 lots.
        stack.chunk_size = min(int(env_example()["AVENIR_RELEASE_CHUNK_SIZE"]), max(100, LOTS // 20))
        yield stack


def pending(stack: ChaosStack) -> int:
    return stack.query(
        "SELECT count(*) FROM vault_vesting_lots WHERE status = 'VESTED' AND released_amount < amount "
        "AND release_day <= (now() AT TIME ZONE 'UTC')::date"
    )[0][0]


def runs(stack: ChaosStack) -> list[tuple]:
    """(id, trigger, status, executed_count, holder, operations carrying its trace id), oldest first."""
    return stack.query(
        "SELECT r.id, r.trigger, r.status, r.executed_count, r.holder, "
        "(SELECT count(*) FROM operations o WHERE o.type = 'VAULT_VESTING_RELEASE' "
        " AND o.operation_metadata->>'trace_id' = r.trace_id) "
        "FROM vault_release_runs r ORDER BY r.started_at, r.id"
    )


@pytest.mark.parametrize("fault", list(SCENARIOS))
def test_the_day_finishes_by_itself(stack, fault):
    kind = SCENARIOS[fault]
    stack.new_day(f"chaos_{kind}")
    (today,) = stack.query("SELECT (now() AT TIME ZONE 'UTC')::date")[0]
    stack.seed_matured(LOTS, today, VESTING_DAYS)
    assert pending(stack) == LOTS
    if kind == "idle":
        stack.set_server("idle_session_timeout", "2s")
    try:
        # As at 00:05: beat has been up for long, and the catch-up's first checks come after
        # the scheduled run started (else, the schedule's time long past, a catch-up run could
        # be first and the fault would not hit the scheduled run).
        stack.start_worker()
        stack.send_scheduled_release()
        wait_for(lambda: runs(stack), timeout=120, what="the scheduled run to start")
        stack.start_beat()
        first = wait_for(
            lambda: next((run for run in runs(stack) if run[3] >= LOTS // 10), None),
            timeout=120,
            what="the scheduled run to commit its first chunks",
        )
        released_at_fault = LOTS - pending(stack)
        assert released_at_fault < LOTS, "the run ended before the fault: run with more lots"
        fault_started = time.monotonic()
        if kind == "kill":
            stack.kill_worker()
            stack.restart_worker()
        elif kind == "postgres":
            stack.restart_postgres()
        elif kind == "pgbouncer":
            stack.restart_pgbouncer()
        elif kind == "redis":
            stack.restart_redis()
        elif kind == "freeze":
            frozen = int(first[4].rpartition(":")[2])
            os.kill(frozen, signal.SIGSTOP)
            try:
                wait_for(lambda: pending(stack) == 0, timeout=300, what="another run to finish the frozen run's day")
                wait_for(
                    lambda: runs(stack)[0][2] == "ABANDONED",
                    timeout=60,
                    what="the frozen run to be marked ABANDONED",
                )
            finally:
                os.kill(frozen, signal.SIGCONT)
            wait_for(
                lambda: any(
                    e.get("event") == "release task stopped: another run took over" for e in stack.log_events("worker")
                ),
                timeout=120,
                what="the woken run to stop without writing",
            )
        fault_ended = time.monotonic()

        wait_for(lambda: pending(stack) == 0, timeout=GOAL_SECONDS + 120, what="every matured lot to be released")
        all_released = time.monotonic()
        wait_for(lambda: all(run[2] != "RUNNING" for run in runs(stack)), timeout=120, what="every run to finish")
    finally:
        if kind == "idle":
            stack.set_server("idle_session_timeout", None)
        stack.stop_services()

    day = runs(stack)
    (released,) = stack.query("SELECT count(*) FROM vault_vesting_lots WHERE status = 'RELEASED'")[0]
    (twice,) = stack.query(
        "SELECT count(*) FROM (SELECT 1 FROM operations WHERE type = 'VAULT_VESTING_RELEASE' "
        "GROUP BY operation_metadata->>'lot_id' HAVING count(*) > 1) twice"
    )[0]
    (operations,) = stack.query("SELECT count(*) FROM operations WHERE type = 'VAULT_VESTING_RELEASE'")[0]
    verify = stack.manage("verify_ledger", "--currency", "AED")
    health = stack.manage("avenir_schedule_status")
    REPORT.append(
        {
            "fault": fault,
            "lots": LOTS,
            "released at the fault": released_at_fault,
            "fault lasted (s)": round(fault_ended - fault_started, 1),
            "all released, from the fault's start (s)": round(all_released - fault_started, 1),
            "all released, from its end (s)": round(max(0.0, all_released - fault_ended), 1),
            "released": released,
            "released twice": twice,
            "runs": ", ".join(f"{trigger} {status} {count:,}" for _, trigger, status, count, _, _ in day),
            "verify_ledger": verify.returncode,
            "health": health.returncode,
        }
    )

    assert all_released - fault_ended < GOAL_SECONDS
    assert day[0][1] == "schedule", day  # the fault hit the scheduled run, not a catch-up
    assert released == operations == LOTS and twice == 0
    assert all(count == carried for _, _, _, count, _, carried in day), day  # every row exact
    assert sum(count for _, _, _, count, _, _ in day) == LOTS
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert health.returncode == 0, health.stdout + health.stderr
