"""Benchmark of the release job on PostgreSQL: lots/s and peak RSS for the real run,
the dry run and the replay of a released day, with a history of released lots.

Run it through scripts/bench.sh, which starts a throwaway PostgreSQL 15 cluster:
    scripts/bench.sh --lots 200000 --history 1000000

Each measured phase runs in its own process, so its peak RSS is its own.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vancelian.settings")
    import django

    django.setup()


def phase(name: str, as_of: str) -> dict:
    """One measured phase, in this process."""
    setup_django()
    from datetime import date

    from vaults.services.release import release_matured_lots

    started = time.perf_counter()
    summary = release_matured_lots(currency="AED", as_of=date.fromisoformat(as_of), dry_run=name == "dry")
    seconds = time.perf_counter() - started
    return {
        "phase": name,
        "seconds": round(seconds, 3),
        "executed": summary.executed_count,
        "skipped": summary.skipped_count,
        "errors": summary.errors_count,
        "lots_per_s": round(summary.executed_count / seconds) if summary.executed_count else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_phase(name: str, as_of) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.release_benchmark", "--phase", name, "--as-of", as_of.isoformat()],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout)
    print(json.dumps(result), flush=True)
    return result


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def main(lots: int, history: int, users_per_lot: int) -> None:
    setup_django()
    from django.conf import settings

    from vaults.models import VestingLot
    from vaults.services.release import utc_today
    from vaults.services.seed import seed_avenir

    vesting = settings.AVENIR_VESTING_DAYS
    today = utc_today()
    if VestingLot.objects.exists():
        sys.exit("the benchmark needs an empty database (scripts/bench.sh starts one)")
    results = []
    if history:
        t = time.perf_counter()
        seed_avenir(
            users=max(1, history // users_per_lot),
            lots_per_user=users_per_lot,
            deposit_day=today - timedelta(days=vesting + 10),
            spread_days=10,
            prefix="history",
            method="bulk",
        )
        print(json.dumps({"phase": "seed-history", "lots": history, "seconds": round(time.perf_counter() - t, 1)}))
        vacuum_analyze()
        # The history is released by real runs (days D-10 .. D-1): that is a measured real run too.
        results.append(run_phase("real-history", today - timedelta(days=1)))
    t = time.perf_counter()
    seed_avenir(
        users=max(1, lots // users_per_lot),
        lots_per_user=users_per_lot,
        deposit_day=today - timedelta(days=vesting),
        prefix="today",
        method="bulk",
    )
    print(json.dumps({"phase": "seed-today", "lots": lots, "seconds": round(time.perf_counter() - t, 1)}))
    vacuum_analyze()
    results.append(run_phase("dry", today))
    results.append(run_phase("real", today))
    vacuum_analyze()
    results.append(run_phase("replay", today))
    print()
    print(f"{'phase':<14}{'lots':>10}{'seconds':>10}{'lots/s':>10}{'peak RSS MB':>13}")
    for r in results:
        lots_done = r["executed"] or r["skipped"]
        print(f"{r['phase']:<14}{lots_done:>10}{r['seconds']:>10}{r['lots_per_s'] or '-':>10}{r['peak_rss_mb']:>13}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lots", type=int, default=200_000, help="lots maturing today")
    parser.add_argument("--history", type=int, default=1_000_000, help="lots released on earlier days")
    parser.add_argument("--lots-per-user", type=int, default=10)
    parser.add_argument("--phase", choices=["dry", "real", "replay", "real-history"], help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.as_of)))
    else:
        main(args.lots, args.history, args.lots_per_user)
