#!/usr/bin/env bash
# The test command: installs what is missing, starts a throwaway embedded PostgreSQL
# (and Redis), runs ruff, the alert rules' unit tests (promtool) and the whole pytest suite
# against them, then the tests marked `pooler` again through PgBouncer in transaction pooling
# mode (as production often runs).
# Extra arguments go to pytest (one pass, no ruff), e.g. scripts/test.sh -k release -x;
# TEST_THROUGH_PGBOUNCER=1 scripts/test.sh -m pooler runs only the pooled pass.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# prometheus: the server and promtool, for the alert rules' tests and the end-to-end test.
ensure_apt redis-server chromium chromium-driver pgbouncer faketime prometheus
ensure_venv requirements-dev.txt

trap 'stop_redis; stop_pg' EXIT
# Durability off: a throwaway server for tests only (the benchmark keeps it on).
start_pg fsync=off synchronous_commit=off full_page_writes=off max_connections=200
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
# Both passes run, so one report shows what failed directly and what only through PgBouncer.
status=0
python -m pytest || status=$?
log "release and concurrency tests again through PgBouncer (transaction pooling)"
TEST_THROUGH_PGBOUNCER=1 python -m pytest -m pooler || status=$?
exit "$status"
