"""Benchmark of a /metrics scrape beside its plain-SQL ceiling.

Seeds, with the bulk path, `--history` lots released by a real run, `--pending` lots still
locked (maturing today) and `--overdue` lots matured yesterday and not released, then
`--runs` finished run rows (a daily run over the years, a few failed, with errors or
abandoned) and as many ledger verification records. After a VACUUM ANALYZE it times, each
`--repeat` times after a warm-up:
- the selector (vaults.selectors.release_metrics: one READ ONLY snapshot);
- the view through Django's test client (selector + text encoding + token check);
- a real scrape over HTTP: gunicorn with DEBUG off (the compose web command, one worker),
  as Prometheus scrapes it, with a new database connection per request (DATABASE_CONN_MAX_AGE=0,
  the default) and with persistent ones (60);
- the plain-SQL reference (reference_metrics.sql): the same facts in one statement.

Run it through scripts/bench.sh, which starts a throwaway PostgreSQL:
    scripts/bench.sh metrics --history 1000000
With `--reuse`, an already seeded database is measured again without seeding.
"""

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUNS_SQL = """
INSERT INTO vault_release_runs (trace_id, vault_id, as_of, currency, trigger, actor, started_at, finished_at,
    status, exit_code, executed_count, executed_amount, errors_count, locks_closed_count, heartbeat_at, summary,
    error, task_id)
SELECT 'job-avenir-vesting-bench-' || g, %(vault)s, CURRENT_DATE - 30 - g, 'AED', 'schedule', 'celery:bench',
       ts, ts + interval '40 seconds',
       CASE WHEN g %% 97 = 0 THEN 'FAILED' WHEN g %% 89 = 0 THEN 'ABANDONED'
            WHEN g %% 13 = 0 THEN 'COMPLETED_WITH_ERRORS' ELSE 'SUCCEEDED' END,
       CASE WHEN g %% 13 = 0 OR g %% 89 = 0 OR g %% 97 = 0 THEN 1 ELSE 0 END,
       0, 0, 0, 0, ts + interval '40 seconds', '{}', '', ''
  FROM generate_series(1, %(runs)s) g, LATERAL (SELECT now() - (30 + g) * interval '1 day' AS ts) t
"""

VERIFICATIONS_SQL = """
INSERT INTO vault_ledger_verifications (checked_at, currency, ok, violations, failed_checks, seconds, trigger,
    actor, trace_id)
SELECT now() - (30 + g) * interval '1 day', CASE WHEN g %% 7 = 0 THEN '' ELSE 'AED' END, true, 0, '[]', 1.5,
       'after_release', 'celery', ''
  FROM generate_series(1, %(runs)s) g
"""


def seed(history: int, pending: int, overdue: int, runs: int, lots_per_user: int) -> None:
    from django.conf import settings
    from django.db import connection

    from benchmarks.release_benchmark import seed_maturing_today, seed_released_history
    from vaults.selectors import get_vault
    from vaults.services.release import utc_today
    from vaults.services.seed import seed_avenir

    if history:
        seed_released_history(history, lots_per_user)
    if pending:
        seed_maturing_today(pending, lots_per_user, prefix="pending")
    if overdue:
        seed_avenir(
            users=max(1, overdue // lots_per_user),
            lots_per_user=lots_per_user,
            deposit_day=utc_today() - timedelta(days=settings.AVENIR_VESTING_DAYS + 1),
            prefix="overdue",
            method="bulk",
        )
    with connection.cursor() as cursor:
        cursor.execute(RUNS_SQL, {"vault": get_vault(currency="AED").pk, "runs": runs})
        cursor.execute(VERIFICATIONS_SQL, {"runs": runs})


def timings(fn: Callable[[], object], repeat: int) -> dict:
    for _ in range(3):  # warm-up: connections, imports, the planner's caches
        fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {
        "min_ms": round(samples[0], 2),
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
        "max_ms": round(samples[-1], 2),
    }


def gunicorn_scrape(token: str, repeat: int, *, conn_max_age: int) -> dict:
    """The compose web command (one worker), scraped over HTTP with the token. With
    DATABASE_CONN_MAX_AGE=0 (.env.example) each scrape also opens its database connection."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "METRICS_BEARER_TOKEN": token, "DATABASE_CONN_MAX_AGE": str(conn_max_age)}
    argv = [sys.executable, "-m", "gunicorn", "vancelian.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"})

    def scrape() -> bytes:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                body = scrape()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert b"avenir_release_overdue_lots" in body
        return timings(scrape, repeat)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main(history: int, pending: int, overdue: int, runs: int, lots_per_user: int, repeat: int, reuse: bool) -> None:
    from benchmarks.release_benchmark import setup_django, sql

    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    from common.db import fetch_rows
    from vaults.models import VestingLot
    from vaults.selectors.release_metrics import release_metrics

    if not reuse:
        if VestingLot.objects.exists():
            raise SystemExit("the benchmark needs an empty database (scripts/bench.sh starts one), or --reuse")
        seed(history, pending, overdue, runs, lots_per_user)
    sql("VACUUM ANALYZE", connection.settings_dict["NAME"])
    sizes = fetch_rows(
        "SELECT (SELECT COUNT(*) FROM vault_vesting_lots), (SELECT COUNT(*) FROM vault_vesting_lots"
        " WHERE status = 'RELEASED'), (SELECT COUNT(*) FROM vault_release_runs),"
        " (SELECT COUNT(*) FROM vault_ledger_verifications)"
    )[0]
    print(json.dumps(dict(zip(("lots", "released", "runs", "verifications"), sizes, strict=True))), flush=True)

    metrics = release_metrics()
    [aed] = [m for m in metrics.currencies if m.currency == "AED"]
    print(json.dumps({"lots_released_total": aed.lots_released, "overdue_lots": aed.overdue.count}), flush=True)

    token = secrets.token_urlsafe(32)
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic, none needed
    client = Client(HTTP_HOST="localhost")

    def view() -> None:
        with override_settings(METRICS_BEARER_TOKEN=token):
            response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200

    reference_sql = (ROOT / "benchmarks" / "reference_metrics.sql").read_text()
    lease = settings.AVENIR_RELEASE_LEASE_SECONDS
    results = {
        "selector": timings(release_metrics, repeat),
        "view (test client)": timings(view, repeat),
        "plain-SQL reference": timings(lambda: fetch_rows(reference_sql, {"lease_seconds": lease}), repeat),
        "HTTP scrape, gunicorn": gunicorn_scrape(token, repeat, conn_max_age=0),
        "HTTP scrape, CONN_MAX_AGE=60": gunicorn_scrape(token, repeat, conn_max_age=60),
    }
    print()
    print(f"{'phase':<30}{'min ms':>9}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    for name, r in results.items():
        print(f"{name:<30}{r['min_ms']:>9}{r['median_ms']:>11}{r['p95_ms']:>9}{r['max_ms']:>9}")
    ratio = results["selector"]["median_ms"] / results["plain-SQL reference"]["median_ms"]
    print(f"\nselector / plain SQL (median): {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=1_000_000, help="lots released by a real run")
    parser.add_argument("--pending", type=int, default=200_000, help="lots still locked, maturing today")
    parser.add_argument("--overdue", type=int, default=1_000, help="lots matured yesterday, not released")
    parser.add_argument("--runs", type=int, default=1_100, help="finished run rows (and verification records)")
    parser.add_argument("--lots-per-user", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="measure the database as it is (no seeding)")
    args = parser.parse_args()
    main(args.history, args.pending, args.overdue, args.runs, args.lots_per_user, args.repeat, args.reuse)
