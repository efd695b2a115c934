"""PgBouncer in transaction pooling mode in front of the test database (the `pgbouncer`
fixture): it really pools per transaction, psycopg's automatic prepared statements break
there (hence DATABASE_POOLER=transaction), and the release command runs cleanly through it."""

import json
import subprocess
import sys
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings

from common.embedded_postgres import CHECKOUT
from common.tests.support.pgbouncer import PgBouncer
from vaults.models import LotStatus, ReleaseRun, VestingLot
from vaults.services.release import utc_today
from vaults.services.seed import seed_avenir
from vaults.tests.support.database import assert_invariants

pytestmark = pytest.mark.pooler

QUERY = "SELECT %s::int + 1"


def test_it_pools_per_transaction(pgbouncer):
    config = {row["key"]: row["value"] for row in pgbouncer.show("CONFIG")}
    assert config["pool_mode"] == "transaction"
    assert int(config["max_client_conn"]) >= 200

    with pgbouncer.connect("postgres", autocommit=True) as a, pgbouncer.connect("postgres") as b:
        first = a.execute("SELECT pg_backend_pid()").fetchone()[0]
        # b's open transaction takes the server connection a just gave back...
        assert b.execute("SELECT pg_backend_pid()").fetchone()[0] == first
        # ...so a's next statement runs in another server session: no session state survives.
        assert a.execute("SELECT pg_backend_pid()").fetchone()[0] != first
        b.rollback()
    pools = {row["database"]: row for row in pgbouncer.show("POOLS")}
    assert pools["postgres"]["pool_mode"] == "transaction"


def _interleaved(bouncer: PgBouncer, *, prepare_threshold: int | None, runs: int) -> list[int]:
    """The same parametrised query on one client, twice per round: the second time, another
    client's open transaction holds the server session the first one used."""
    results = []
    with bouncer.connect("postgres", autocommit=True, prepare_threshold=prepare_threshold) as client:
        for i in range(runs):
            results.append(client.execute(QUERY, [i]).fetchone()[0])
            with bouncer.connect("postgres") as other:
                other.execute("SELECT 1")  # BEGIN: takes the server session `client` just gave back
                results.append(client.execute(QUERY, [i]).fetchone()[0])
                other.rollback()
    return results


def test_automatic_prepared_statements_break_through_transaction_pooling(database_server):
    """psycopg prepares a query from its 6th run (prepare_threshold=5) in the server session
    it ran on; a later run lands in another session, which never saw it. Its own PgBouncer:
    fresh server sessions, where no earlier client left a statement of the same name."""
    with PgBouncer(database_server) as bouncer:
        with pytest.raises(psycopg.errors.InvalidSqlStatementName, match="does not exist"):
            _interleaved(bouncer, prepare_threshold=5, runs=6)
        # What DATABASE_POOLER=transaction configures: never prepared, always right.
        assert _interleaved(bouncer, prepare_threshold=None, runs=6) == [i + 1 for i in range(6) for _ in (0, 1)]


@pytest.mark.django_db(transaction=True)  # the subprocesses see the seeded lots
def test_release_command_runs_cleanly_through_pgbouncer(avenir, pgbouncer_env):
    today = utc_today()
    days = 6
    seed_avenir(
        users=24,
        lots_per_user=2,
        deposit_day=today - timedelta(days=settings.AVENIR_VESTING_DAYS + days - 1),
        spread_days=days,
        method="bulk",
    )
    per_day = VestingLot.objects.count() // days
    env = {**pgbouncer_env, "AVENIR_RELEASE_CHUNK_SIZE": "3", "AVENIR_RELEASE_WORKERS": "2"}

    # One run per matured day, oldest first, then a replay of today: 7 processes, each with
    # two writer connections and many small chunks, every transaction on any server session.
    runs = [(today - timedelta(days=d), False) for d in reversed(range(days))] + [(today, True)]
    for as_of, replay in runs:
        done = subprocess.run(
            [sys.executable, "manage.py", "release_avenir_vesting", "--as-of", as_of.isoformat()],
            cwd=CHECKOUT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(done.stdout)["summary"]
        assert summary["errors_count"] == 0, summary["errors"]
        assert (summary["executed_count"], summary["skipped_count"]) == ((0, per_day) if replay else (per_day, 0))

    assert not VestingLot.objects.exclude(status=LotStatus.RELEASED).exists()
    assert ReleaseRun.objects.filter(status="SUCCEEDED").count() == days + 1
    assert_invariants()


def test_stop_ends_the_process_and_removes_its_folder(database_server):
    bouncer = PgBouncer(database_server).start()
    workdir, port = bouncer.workdir, bouncer.port
    assert "listening on 127.0.0.1:" in bouncer.log()

    bouncer.stop()
    bouncer.stop()  # idempotent

    assert not workdir.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2)
