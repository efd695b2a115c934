#!/usr/bin/env bash
# The test command: installs what is missing, starts a throwaway embedded PostgreSQL
# (and Redis), runs ruff and the whole pytest suite against them.
# Extra arguments go to pytest, e.g. scripts/test.sh -k release -x
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_apt redis-server chromium chromium-driver
ensure_venv requirements-dev.txt

trap 'stop_redis; stop_pg' EXIT
# Durability off: a throwaway server for tests only (the benchmark keeps it on).
start_pg fsync=off synchronous_commit=off full_page_writes=off max_connections=200
start_redis
export DJANGO_DEBUG=true DJANGO_SECRET_KEY=test-only-secret

if [ $# -eq 0 ]; then
  log "ruff check + format --check"
  ruff check .
  ruff format --check .
fi
python -m pytest "$@"
