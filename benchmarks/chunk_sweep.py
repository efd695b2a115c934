"""The release at several values of one setting, with 1 and 2 connections, on the same data:
what the default AVENIR_RELEASE_CHUNK_SIZE is chosen from, and what the lease keeper's
heartbeat costs.

    scripts/bench.sh chunks [--lots 200000] [--sizes 1000,2000,5000,10000] [--rounds 3]
    scripts/bench.sh chunks --setting AVENIR_RELEASE_HEARTBEAT_SECONDS --sizes 1,15

It seeds once, then, round after round, releases a fresh copy of the seeded database
(CREATE DATABASE ... TEMPLATE) at each value and connection count, the order of the values
turning every round so a slower moment of the machine falls on each. Prints the median
lots/s per value, and each round's figures.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from benchmarks.release_benchmark import ROOT, copy_database, seed_maturing_today, settle, setup_django, sql, url_of


def release(seed_db: str, as_of, *, setting: str, value: str, workers: int) -> dict:
    database = "bench_chunks_run"
    copy_database(seed_db, database)
    settle()  # the copy's writes are not charged to the run
    out = subprocess.run(
        [
            sys.executable,
            *("-m", "benchmarks.release_benchmark", "--phase", "real"),
            *("--as-of", as_of.isoformat(), "--workers", str(workers)),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": url_of(database), setting: value},
    )
    sql(f'DROP DATABASE "{database}"', "postgres")
    result = {setting: value, **json.loads(out.stdout)}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lots", type=int, default=200_000, help="lots maturing today")
    parser.add_argument("--lots-per-user", type=int, default=10)
    parser.add_argument("--setting", default="AVENIR_RELEASE_CHUNK_SIZE", help="the setting to vary")
    parser.add_argument("--sizes", default="1000,2000,5000,10000", help="its values, comma separated")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = args.sizes.split(",")
    setup_django()
    from django.db import connection

    from vaults.services.release import utc_today

    seed_db = connection.settings_dict["NAME"]
    today = utc_today()
    seed_maturing_today(args.lots, args.lots_per_user, prefix="today")
    sql("VACUUM ANALYZE", seed_db)
    speeds: dict[tuple[str, int], list[int]] = {}
    for round_ in range(args.rounds):
        order = sizes[round_ % len(sizes) :] + sizes[: round_ % len(sizes)]
        for workers in (1, 2):
            for size in order:
                result = release(seed_db, today, setting=args.setting, value=size, workers=workers)
                speeds.setdefault((size, workers), []).append(result["lots_per_s"])
    print()
    print(f"release of {args.lots:,} lots, {args.rounds} rounds: median lots/s (each round's)")
    print(f"{args.setting}  {'1 connection':>28}  {'2 connections':>28}")
    for size in sizes:
        cells = [
            f"{statistics.median(speeds[size, w]):>7,.0f} ({', '.join(f'{s:,}' for s in speeds[size, w])})"
            for w in (1, 2)
        ]
        print(f"{size:>{len(args.setting)}}  {cells[0]:>28}  {cells[1]:>28}")


if __name__ == "__main__":
    main()
