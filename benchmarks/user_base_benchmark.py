"""Does a release's cost stay flat as the customer base grows?

    scripts/bench.sh customers [--lots 200000] [--customers 2000000] [--rounds 2]

The same `--lots` lots maturing today are released twice over: on a database that holds
only them, and on one where `--customers` other customers also hold their wallets and one
unmatured lot each (a deposit, its lock, its operations and entries). Both databases come
from one seed (the second is the first plus the other customers), each run works on a
fresh copy, and the two alternate, with 1 and 2 connections. It prints both speeds and
their ratio: a plan that reads more than the chunk's own rows shows up as a ratio below 1.
"""

import argparse
import json
import statistics
import time
from datetime import timedelta

from benchmarks.release_benchmark import copy_database, run_phase, seed_maturing_today, setup_django, sql


def seed_other_customers(customers: int) -> None:
    """`customers` users with one lot each, maturing in 30 days (bulk seed)."""
    from django.conf import settings

    from vaults.services.release import utc_today
    from vaults.services.seed import seed_avenir

    t = time.perf_counter()
    seed_avenir(
        users=customers,
        lots_per_user=1,
        deposit_day=utc_today() - timedelta(days=settings.AVENIR_VESTING_DAYS - 30),
        prefix="other",
        method="bulk",
    )
    print(json.dumps({"phase": "seed-other", "customers": customers, "seconds": round(time.perf_counter() - t, 1)}))


def main(lots: int, customers: int, lots_per_user: int, rounds: int) -> None:
    setup_django()
    from django.db import connection

    from vaults.services.release import utc_today

    main_db = connection.settings_dict["NAME"]
    today = utc_today()
    seed_maturing_today(lots, lots_per_user, prefix="today")
    sql("VACUUM ANALYZE", main_db)
    small = f"{main_db}_alone"
    copy_database(main_db, small)
    seed_other_customers(customers)
    sql("VACUUM ANALYZE", main_db)
    seeds = {"alone": small, "with customers": main_db}
    speeds: dict[tuple[str, int], list[float]] = {}
    for round_ in range(rounds):
        order = list(seeds) if round_ % 2 == 0 else list(reversed(seeds))
        for workers in (1, 2):
            for name in order:
                copy_database(seeds[name], "bench_run")
                sql("CHECKPOINT", "postgres")
                result = run_phase("real", today, database="bench_run", workers=workers)
                sql('DROP DATABASE "bench_run"', "postgres")
                speeds.setdefault((name, workers), []).append(result["lots_per_s"])
    sql(f'DROP DATABASE IF EXISTS "{small}"', "postgres")
    print()
    print(f"release of {lots:,} matured lots, alone and beside {customers:,} other customers ({rounds} rounds)")
    for workers in (1, 2):
        alone = statistics.median(speeds["alone", workers])
        crowded = statistics.median(speeds["with customers", workers])
        print(
            f"{workers} connection(s): {alone:,.0f} lots/s alone, {crowded:,.0f} lots/s with the customers"
            f" = {crowded / alone:.2f}x"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lots", type=int, default=200_000, help="lots maturing today")
    parser.add_argument("--customers", type=int, default=2_000_000, help="other customers, one unmatured lot each")
    parser.add_argument("--lots-per-user", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    main(args.lots, args.customers, args.lots_per_user, args.rounds)
