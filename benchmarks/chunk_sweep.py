"""The release at several chunk sizes, with 1 and 2 connections, on the same data: what the
default AVENIR_RELEASE_CHUNK_SIZE is chosen from.

    scripts/bench.sh chunks [--lots 200000] [--sizes 1000,2000,5000,10000] [--rounds 3]

It seeds once, then, round after round, releases a fresh copy of the seeded database
(CREATE DATABASE ... TEMPLATE) at each size and connection count, the order of the sizes
turning every round so a slower moment of the machine falls on each. Prints the median
lots/s per size, and each round's figures.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from benchmarks.release_benchmark import ROOT, copy_database, seed_maturing_today, setup_django, sql, url_of


def release(seed_db: str, as_of, *, chunk_size: int, workers: int) -> dict:
    database = "bench_chunks_run"
    copy_database(seed_db, database)
    sql("CHECKPOINT", "postgres")  # the copy's writes are not charged to the run
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
        env={**os.environ, "DATABASE_URL": url_of(database), "AVENIR_RELEASE_CHUNK_SIZE": str(chunk_size)},
    )
    sql(f'DROP DATABASE "{database}"', "postgres")
    result = {"chunk_size": chunk_size, **json.loads(out.stdout)}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lots", type=int, default=200_000, help="lots maturing today")
    parser.add_argument("--lots-per-user", type=int, default=10)
    parser.add_argument("--sizes", default="1000,2000,5000,10000", help="chunk sizes, comma separated")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    setup_django()
    from django.db import connection

    from vaults.services.release import utc_today

    seed_db = connection.settings_dict["NAME"]
    today = utc_today()
    seed_maturing_today(args.lots, args.lots_per_user, prefix="today")
    sql("VACUUM ANALYZE", seed_db)
    speeds: dict[tuple[int, int], list[int]] = {}
    for round_ in range(args.rounds):
        order = sizes[round_ % len(sizes) :] + sizes[: round_ % len(sizes)]
        for workers in (1, 2):
            for size in order:
                result = release(seed_db, today, chunk_size=size, workers=workers)
                speeds.setdefault((size, workers), []).append(result["lots_per_s"])
    print()
    print(f"release of {args.lots:,} lots, {args.rounds} rounds: median lots/s (each round's)")
    print(f"{'chunk size':>10}  {'1 connection':>28}  {'2 connections':>28}")
    for size in sizes:
        cells = [
            f"{statistics.median(speeds[size, w]):>7,.0f} ({', '.join(f'{s:,}' for s in speeds[size, w])})"
            for w in (1, 2)
        ]
        print(f"{size:>10}  {cells[0]:>28}  {cells[1]:>28}")


if __name__ == "__main__":
    main()
