#!/usr/bin/env bash
# The test command: installs what is missing, starts a throwaway embedded PostgreSQL 18
# (and Redis), runs ruff, the alert rules' unit tests (promtool) and the whole pytest suite
# against them (the chaos suite included, at 20,000 lots), then the tests marked `pooler` again
# through PgBouncer in transaction pooling mode (as production often runs), then the ledger,
# release, reversal, run lifecycle and API tests again on a throwaway PostgreSQL 15 (Debian's package):
# the oldest and the newest supported versions.
# Extra arguments go to pytest (one pass, no ruff), e.g. scripts/test.sh -k release -x;
# TEST_THROUGH_PGBOUNCER=1 scripts/test.sh -m pooler runs only the pooled pass;
# TEST_PG=15 scripts/test.sh -k release runs the one pass on PostgreSQL 15.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# prometheus: the server and promtool, for the alert rules' tests and the end-to-end test.
ensure_apt redis-server chromium chromium-driver pgbouncer faketime postgresql-15 prometheus
ensure_venv requirements-dev.txt

# Durability off: a throwaway server for tests only (the benchmark keeps it on).
TEST_SERVER_SETTINGS=(fsync=off synchronous_commit=off full_page_writes=off max_connections=200)
# The pass on PostgreSQL 15: what touches the ledger's SQL, the release engine and its runs,
# and the API; not the admin's pages, the browser, Celery end to end or the embedded server
# (their SQL is the same, and they add minutes).
PG15_TESTS=(
  ledger/tests
  customer_api/tests
  vaults/tests/test_release_*.py
  vaults/tests/test_run_*.py
  vaults/tests/test_reference_checks.py
  vaults/tests/test_reconnect.py
  vaults/tests/test_take_over.py
  vaults/tests/test_catch_up.py
  vaults/tests/test_reversal*.py
  vaults/tests/test_metrics*.py
  vaults/tests/test_idempotency_races.py
  vaults/tests/test_runbook_sql.py
  vaults/tests/test_verify_ledger.py
  vaults/tests/test_audit.py
  vaults/tests/test_database_clock.py
  vaults/tests/test_seed.py
  vaults/tests/test_tasks.py
  vaults/tests/test_forecast.py
  vaults/tests/test_schedule_health.py
)

trap 'stop_redis; stop_pg' EXIT
start_pg --pg "${TEST_PG:-18}" "${TEST_SERVER_SETTINGS[@]}"
start_redis
export DJANGO_DEBUG=true DJANGO_SECRET_KEY=test-only-secret

if [ $# -gt 0 ]; then
  python -m pytest "$@"
  exit
fi
log "ruff check + format --check"
ruff check .
ruff format --check .
log "promtool: the alert rules and their unit tests (deploy/prometheus/)"
promtool check rules deploy/prometheus/rules/*.yml
promtool test rules deploy/prometheus/tests/*.yml
# Every pass runs, so one report shows what failed directly, only through PgBouncer, or only on 15.
status=0
python -m pytest || status=$?
log "release and concurrency tests again through PgBouncer (transaction pooling)"
TEST_THROUGH_PGBOUNCER=1 python -m pytest -m pooler || status=$?
stop_pg
log "ledger, release, run lifecycle and API tests again on PostgreSQL 15"
start_pg --pg 15 "${TEST_SERVER_SETTINGS[@]}"
python -m pytest "${PG15_TESTS[@]}" || status=$?
exit "$status"
