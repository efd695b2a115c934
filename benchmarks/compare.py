"""The release at this checkout beside the release at another commit, on the same data.

    scripts/bench.sh --compare REV [--lots 200000] [--history 0] [--rounds 3]

REV is checked out in a temporary git worktree. Each side migrates its own database with
its own migrations and seeds it with its own bulk seed (the same users, lots and days), so
each runs on its own schema. Then, round after round, each side's real release runs on a
fresh copy of its seeded database (CREATE DATABASE ... TEMPLATE), with 1 and with 2
connections, the two sides alternating which goes first: a slower or busier moment of
the machine falls on both. Each side uses its own default chunk size. The speed-up is the
ratio of the medians, printed with every round's own ratio.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from benchmarks.release_benchmark import ROOT, copy_database, settle, setup_django, sql, url_of

SEED = """
import sys
from benchmarks import release_benchmark as rb
rb.setup_django()
lots, history, per_user = (int(arg) for arg in sys.argv[1:4])
if history:
    rb.seed_released_history(history, per_user)
rb.seed_maturing_today(lots, per_user, prefix="today")
"""


def side_env(database: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url_of(database)}


def run(argv: list[str], *, cwd: Path, database: str) -> str:
    out = subprocess.run(argv, cwd=cwd, env=side_env(database), check=True, capture_output=True, text=True)
    return out.stdout


def prepare(name: str, tree: Path, args: argparse.Namespace) -> str:
    """A database migrated and seeded by `tree`'s own code; its name."""
    database = f"bench_{name}_seed"
    sql(f'DROP DATABASE IF EXISTS "{database}"', "postgres")
    sql(f'CREATE DATABASE "{database}"', "postgres")
    run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=tree, database=database)
    seeded = run(
        [sys.executable, "-c", SEED, str(args.lots), str(args.history), str(args.lots_per_user)],
        cwd=tree,
        database=database,
    )
    print(f"{name}: seeded {seeded.strip()}", flush=True)
    sql("VACUUM ANALYZE", database)
    return database


def release(name: str, tree: Path, seed_db: str, as_of: date, workers: int) -> float:
    """One real release of every lot of `seed_db` maturing on as_of, on a fresh copy; lots/s."""
    database = "bench_run"
    copy_database(seed_db, database)
    settle()  # the copy's writes are not charged to the run
    result = json.loads(
        run(
            [
                sys.executable,
                *("-m", "benchmarks.release_benchmark", "--phase", "real"),
                *("--as-of", as_of.isoformat(), "--workers", str(workers)),
            ],
            cwd=tree,
            database=database,
        )
    )
    sql(f'DROP DATABASE "{database}"', "postgres")
    print(json.dumps({"side": name, **result}), flush=True)
    return result["lots_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", required=True, metavar="REV", help="the commit to compare against")
    parser.add_argument("--lots", type=int, default=200_000, help="lots maturing today")
    parser.add_argument("--history", type=int, default=0, help="lots released on earlier days")
    parser.add_argument("--lots-per-user", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setup_django()
    from vaults.services.release import utc_today

    rev = subprocess.run(
        ["git", "rev-parse", "--short", f"{args.compare}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        base_tree = Path(tmp) / rev
        subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), rev], cwd=ROOT, check=True)
        try:
            sides = {"base": base_tree, "head": ROOT}
            seeds = {name: prepare(name, tree, args) for name, tree in sides.items()}
            today = utc_today()
            speeds: dict[tuple[str, int], list[float]] = {}
            for round_ in range(args.rounds):
                order = ["base", "head"] if round_ % 2 == 0 else ["head", "base"]
                for workers in (1, 2):
                    for name in order:
                        speed = release(name, sides[name], seeds[name], today, workers)
                        speeds.setdefault((name, workers), []).append(speed)
            for database in seeds.values():
                sql(f'DROP DATABASE IF EXISTS "{database}"', "postgres")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    print()
    print(f"release of {args.lots:,} lots ({args.history:,} of history), {args.rounds} rounds: {rev} -> this checkout")
    for workers in (1, 2):
        base, head = speeds["base", workers], speeds["head", workers]
        rounds = ", ".join(f"{h / b:.2f}x" for b, h in zip(base, head, strict=True))
        print(
            f"{workers} connection(s): {statistics.median(base):,.0f} -> {statistics.median(head):,.0f} lots/s"
            f" = {statistics.median(head) / statistics.median(base):.2f}x (rounds: {rounds})"
        )


if __name__ == "__main__":
    main()
