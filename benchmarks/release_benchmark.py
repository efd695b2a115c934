"""Benchmark of the release job beside its ceiling: lots/s and peak RSS of the real
run (1 and 2 connections), the dry run and the replay of a released day, with a
history of released lots, and the same release done by plain SQL on the project's
own schema (reference_chunk.sql) on copies of the same seeded database.

Run it through scripts/bench.sh, which starts a throwaway PostgreSQL:
    scripts/bench.sh --lots 200000 --history 1000000

Each measured phase runs in its own process, so its peak RSS is its own. After each
real run the benchmark checks that nothing is left pending and that the lock audit
is consistent (not timed).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from common.database_url import database_url

ROOT = Path(__file__).resolve().parents[1]


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vancelian.settings")
    import django

    django.setup()


def phase(name: str, as_of: date, workers: int) -> dict:
    """One measured phase, in this process."""
    setup_django()
    from django.conf import settings
    from django.db import connection

    from vaults.selectors import get_vault
    from vaults.services.release import release_matured_lots

    started = time.perf_counter()
    if name == "reverse":
        from vaults.models import ReleaseRun, RunStatus
        from vaults.services.reversal import reverse_releases

        released = ReleaseRun.objects.filter(as_of=as_of, status=RunStatus.SUCCEEDED, executed_count__gt=0)
        run = released.order_by("-started_at").first()  # not the replay, which released nothing
        started = time.perf_counter()
        summary = reverse_releases(
            run_id=run.pk, reason="benchmark", vesting_days=settings.AVENIR_VESTING_DAYS + 30, workers=workers
        )
        executed, skipped, errors = summary.reversed_count, summary.skipped_count, summary.errors_count
    elif name.startswith("reference"):
        from benchmarks.reference import release
        from vaults.services.release.context import RunContext

        vault = get_vault(currency="AED")
        ctx = RunContext(
            vault=vault,
            as_of=as_of,
            trace_id="",
            dry_run=False,
            lot_ids=None,
            chunk_size=settings.AVENIR_RELEASE_CHUNK_SIZE,  # the engine's own
            workers=workers,
        )
        executed = release(database_url(connection.settings_dict), ctx, connections=workers)
        skipped = errors = 0
    else:
        summary = release_matured_lots(currency="AED", as_of=as_of, dry_run=name == "dry", workers=workers)
        executed, skipped, errors = summary.executed_count, summary.skipped_count, summary.errors_count
    seconds = time.perf_counter() - started
    result = {
        "phase": name,
        "workers": workers,
        "seconds": round(seconds, 3),
        "executed": executed,
        "skipped": skipped,
        "errors": errors,
        "lots_per_s": round(executed / seconds) if executed else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if name != "dry" and executed:
        result["verified"] = verify(as_of)
    return result


def verify(as_of: date) -> bool:
    """Nothing matured is left pending, and the lock audit finds nothing."""
    from vaults.selectors import get_vault, pending_lots
    from vaults.selectors.lock_audit import audit_avenir_locks

    pending = pending_lots(vault=get_vault(currency="AED"), as_of=as_of).count()
    report = audit_avenir_locks(currency="AED")
    if pending or not report.consistent:
        raise SystemExit(f"verification failed: {pending} pending, audit {report.to_json()['counts']}")
    return True


def url_of(database: str) -> str:
    from django.db import connection

    return database_url({**connection.settings_dict, "NAME": database})


def run_phase(name: str, as_of: date, *, database: str, workers: int) -> dict:
    settle()
    command = [sys.executable, "-m", "benchmarks.release_benchmark", "--phase", name, "--as-of", as_of.isoformat()]
    out = subprocess.run(
        [*command, "--workers", str(workers)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": url_of(database)},
    )
    result = json.loads(out.stdout)
    print(json.dumps(result), flush=True)
    return result


def sql(statement: str, database: str) -> None:
    import psycopg

    with psycopg.connect(url_of(database), autocommit=True) as conn:
        conn.execute(statement)


def copy_database(source: str, target: str) -> None:
    from django.db import connections

    connections.close_all()  # CREATE DATABASE ... TEMPLATE needs the source idle
    sql(f'DROP DATABASE IF EXISTS "{target}"', "postgres")
    sql(f'CREATE DATABASE "{target}" TEMPLATE "{source}" STRATEGY file_copy', "postgres")


def settle() -> None:
    """What the server and the copies left dirty (the previous phase's buffers, a copy's files in
    the OS cache) written back now, not during the next measured phase: otherwise a phase pays
    for the one before it, or a bigger database for its own copy."""
    sql("CHECKPOINT", "postgres")
    os.sync()


def seed_released_history(history: int, lots_per_user: int) -> dict:
    """`history` lots maturing on days D-10 .. D-1, released by a real run (measured too)."""
    from django.conf import settings
    from django.db import connection

    from vaults.services.release import utc_today
    from vaults.services.seed import seed_avenir

    today, main_db = utc_today(), connection.settings_dict["NAME"]
    t = time.perf_counter()
    seed_avenir(
        users=max(1, history // lots_per_user),
        lots_per_user=lots_per_user,
        deposit_day=today - timedelta(days=settings.AVENIR_VESTING_DAYS + 10),
        spread_days=10,
        prefix="history",
        method="bulk",
    )
    print(json.dumps({"phase": "seed-history", "lots": history, "seconds": round(time.perf_counter() - t, 1)}))
    sql("VACUUM ANALYZE", main_db)
    return run_phase("real-history", today - timedelta(days=1), database=main_db, workers=2)


def seed_maturing_today(lots: int, lots_per_user: int, *, prefix: str) -> None:
    """`lots` locked lots maturing today (bulk seed)."""
    from django.conf import settings

    from vaults.services.release import utc_today
    from vaults.services.seed import seed_avenir

    t = time.perf_counter()
    seed_avenir(
        users=max(1, lots // lots_per_user),
        lots_per_user=lots_per_user,
        deposit_day=utc_today() - timedelta(days=settings.AVENIR_VESTING_DAYS),
        prefix=prefix,
        method="bulk",
    )
    print(json.dumps({"phase": f"seed-{prefix}", "lots": lots, "seconds": round(time.perf_counter() - t, 1)}))


def server_version() -> str:
    """The server's version, e.g. "15.20" (the ratios are per server)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0].split()[0]


def main(lots: int, history: int, lots_per_user: int) -> None:
    setup_django()
    from django.db import connection

    from vaults.models import VestingLot
    from vaults.services.release import utc_today

    main_db = connection.settings_dict["NAME"]
    today = utc_today()
    if VestingLot.objects.exists():
        sys.exit("the benchmark needs an empty database (scripts/bench.sh starts one)")
    results = []
    if history:
        results.append(seed_released_history(history, lots_per_user))
    seed_maturing_today(lots, lots_per_user, prefix="today")
    sql("VACUUM ANALYZE", main_db)
    results.append(run_phase("dry", today, database=main_db, workers=1))
    # Each copy made right before its run, engine and reference alternating: every run starts
    # with its database as fresh in the OS cache as the others' (with every copy made first, the
    # earliest ones, the engine's, could be partly evicted by the later ones).
    copies = {(kind, workers): f"{main_db}_{kind}_{workers}" for workers in (1, 2) for kind in ("real", "reference")}
    measured = {}
    for (kind, workers), database in copies.items():
        t = time.perf_counter()
        copy_database(main_db, database)
        print(json.dumps({"phase": f"copy {database}", "seconds": round(time.perf_counter() - t, 1)}), flush=True)
        measured[kind, workers] = run_phase(kind, today, database=database, workers=workers)
        results.append(measured[kind, workers])
        if kind == "reference":  # the real runs' copies serve the replay and the reversal below
            sql(f'DROP DATABASE IF EXISTS "{database}"', "postgres")
    # The replay of the released day, on a database whose day a real run released.
    sql("VACUUM ANALYZE", copies["real", 2])
    results.append(run_phase("replay", today, database=copies["real", 2], workers=2))
    # Each real run's releases reversed, then (its new release day come: moved to today here)
    # released again, on the database that run released.
    for workers in (1, 2):
        database = copies["real", workers]
        measured["reverse", workers] = run_phase("reverse", today, database=database, workers=workers)
        sql(f"UPDATE vault_vesting_lots SET release_day = '{today}' WHERE reversal_count > 0", database)
        sql("VACUUM ANALYZE", database)
        measured["rerelease", workers] = run_phase("rerelease", today, database=database, workers=workers)
        results += [measured["reverse", workers], measured["rerelease", workers]]
    for database in copies.values():
        sql(f'DROP DATABASE IF EXISTS "{database}"', "postgres")
    print()
    server = server_version()
    print(f"PostgreSQL {server}")
    print(f"{'phase':<14}{'conns':>6}{'lots':>10}{'seconds':>10}{'lots/s':>10}{'peak RSS MB':>13}")
    for r in results:
        lots_done = r["executed"] or r["skipped"]
        print(
            f"{r['phase']:<14}{r['workers']:>6}{lots_done:>10}{r['seconds']:>10}"
            f"{r['lots_per_s'] or '-':>10}{r['peak_rss_mb']:>13}"
        )
    print()
    for workers in (1, 2):
        engine, ceiling = measured["real", workers], measured["reference", workers]
        ratio = engine["lots_per_s"] / ceiling["lots_per_s"]
        print(
            f"engine / plain SQL on PostgreSQL {server}, {workers} connection(s): "
            f"{engine['lots_per_s']} / {ceiling['lots_per_s']} lots/s"
            f" = {ratio:.2f}x"
        )
    for workers in (1, 2):
        release, reversal, again = (measured[kind, workers]["lots_per_s"] for kind in ("real", "reverse", "rerelease"))
        print(
            f"reversal / release, {workers} connection(s): {reversal} / {release} lots/s = {reversal / release:.2f}x;"
            f" released again after it: {again} lots/s = {again / release:.2f}x"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lots", type=int, default=200_000, help="lots maturing today")
    parser.add_argument("--history", type=int, default=1_000_000, help="lots released on earlier days")
    parser.add_argument("--lots-per-user", type=int, default=10)
    parser.add_argument(
        "--phase",
        choices=["dry", "real", "replay", "real-history", "reference", "reverse", "rerelease"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, date.fromisoformat(args.as_of), args.workers)))
    else:
        main(args.lots, args.history, args.lots_per_user)
