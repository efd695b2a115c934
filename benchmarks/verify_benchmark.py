"""Benchmark of `verify_ledger` (the ledger invariant checks) over a released history.

Seeds, with the bulk path, `--history` lots released by a real run (days D-10 .. D-1) and
`--pending` lots still locked (maturing today), then times the selector and the command,
each `--repeat` times, after a VACUUM ANALYZE (the state of a database autovacuum keeps up).
It also runs the selector once without parallel workers and reports the CPU seconds its
server process used (read from /proc when the server is local): a figure that other load on
the machine does not inflate, unlike the wall-clock times.

Run it through scripts/bench.sh, which starts a throwaway PostgreSQL:
    scripts/bench.sh verify --history 1000000 --pending 200000

With `--reuse`, an already seeded database is measured again without seeding.
"""

import argparse
import json
import os
import time
from io import StringIO
from pathlib import Path


def seed(history: int, pending: int, lots_per_user: int) -> None:
    from benchmarks.release_benchmark import seed_maturing_today, seed_released_history

    if history:
        seed_released_history(history, lots_per_user)
    if pending:
        seed_maturing_today(pending, lots_per_user, prefix="pending")


def sizes() -> dict[str, int]:
    from common.db import fetch_rows

    tables = ("operations", "ledger_entries", "ledger_accounts", "wallet_locks", "vault_vesting_lots")
    return {table: fetch_rows(f"SELECT COUNT(*) FROM {table}")[0][0] for table in tables}


def backend_cpu_seconds() -> float | None:
    """User + system CPU of this connection's server process, if it runs on this machine."""
    from common.db import fetch_rows

    pid = fetch_rows("SELECT pg_backend_pid()")[0][0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serial_cpu() -> dict:
    """verify_ledger with no parallel worker: its wall time and its server process's CPU time."""
    from django.db import connection

    from vaults.verification import verify_ledger

    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
    try:
        cpu = backend_cpu_seconds()
        t = time.perf_counter()
        verify_ledger()
        wall = time.perf_counter() - t
        used = backend_cpu_seconds()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET max_parallel_workers_per_gather")
    return {"serial_wall_s": round(wall, 3), "serial_server_cpu_s": None if cpu is None else round(used - cpu, 2)}


def main(history: int, pending: int, lots_per_user: int, repeat: int, reuse: bool) -> None:
    from benchmarks.release_benchmark import setup_django, sql

    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from ledger.verification import verify_ledger as verify_ledger_only
    from vaults.models import VestingLot
    from vaults.verification import verify_ledger

    if not reuse:
        if VestingLot.objects.exists():
            raise SystemExit("the benchmark needs an empty database (scripts/bench.sh starts one), or --reuse")
        seed(history, pending, lots_per_user)
    sql("VACUUM ANALYZE", connection.settings_dict["NAME"])
    print(json.dumps({"phase": "rows", **sizes()}), flush=True)
    for _ in range(repeat):
        t = time.perf_counter()
        ledger_only = verify_ledger_only()
        ledger_s = time.perf_counter() - t
        t = time.perf_counter()
        result = verify_ledger()
        selector_s = time.perf_counter() - t
        t = time.perf_counter()
        call_command("verify_ledger", "--json", stdout=StringIO())  # exit 0: raises nothing when clean
        command_s = time.perf_counter() - t
        assert ledger_only.ok and result.ok, result.to_json()
        print(
            json.dumps(
                {
                    "ok": result.ok,
                    "ledger_checks_s": round(ledger_s, 3),
                    "verify_ledger_s": round(selector_s, 3),
                    "command_s": round(command_s, 3),
                }
            ),
            flush=True,
        )
    print(json.dumps({"phase": "serial (no parallel worker)", **serial_cpu()}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=1_000_000, help="lots released on earlier days")
    parser.add_argument("--pending", type=int, default=200_000, help="lots still locked")
    parser.add_argument("--lots-per-user", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="measure the database as it is (no seeding)")
    args = parser.parse_args()
    main(args.history, args.pending, args.lots_per_user, args.repeat, args.reuse)
