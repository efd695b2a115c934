#!/usr/bin/env bash
# The chaos suite: the production shape on this machine (PostgreSQL, PgBouncer in transaction
# pooling mode, redis-server, the compose worker and beat, DEBUG off), one real fault per
# scenario injected into a scheduled run of N matured lots, and a table of how each day finished.
# Usage: scripts/chaos.sh [--lots 200000] [-k pgbouncer]   (other arguments go to pytest)
# scripts/test.sh runs the same suite at 20,000 lots.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

lots=200000
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--lots" ]; then
    lots="${2:?--lots needs a number}"
    shift 2
  else
    args+=("$1")
    shift
  fi
done
ensure_apt redis-server pgbouncer
ensure_venv requirements-dev.txt
export DJANGO_DEBUG=true DJANGO_SECRET_KEY=test-only-secret CHAOS_LOTS="$lots"
# The suite starts its own servers; pytest-django's test database is not used, but it needs a
# server to point at: a throwaway one, as scripts/test.sh does.
trap 'stop_pg' EXIT
start_pg fsync=off
log "chaos suite with $lots lots per scenario"
python -m pytest -m chaos vaults/tests/test_chaos.py -p no:cacheprovider -v "${args[@]}"
