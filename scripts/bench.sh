#!/usr/bin/env bash
# The release benchmark on a throwaway embedded PostgreSQL 18 (default durability settings).
# Usage: scripts/bench.sh [--lots 200000] [--history 1000000] [--lots-per-user 10]
#        scripts/bench.sh audit [--lots 100000]       (the lock audit)
#        scripts/bench.sh verify [--history 1000000] [--pending 200000]   (verify_ledger)
#        scripts/bench.sh metrics [--history 1000000] [--pending 200000]  (a /metrics scrape)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv requirements-dev.txt
trap stop_pg EXIT
start_pg shared_buffers=1GB max_wal_size=4GB
# DEBUG off: with it, Django keeps every SQL string in memory (connection.queries).
DJANGO_SECRET_KEY="$(python -c "import secrets; print(secrets.token_urlsafe(50))")"
export DJANGO_DEBUG=false DJANGO_SECRET_KEY LOG_LEVEL=WARNING
python manage.py migrate --no-input -v 0
if [ "${1:-}" = "audit" ]; then
  shift
  python -m benchmarks.audit_benchmark "$@"
elif [ "${1:-}" = "verify" ]; then
  shift
  python -m benchmarks.verify_benchmark "$@"
elif [ "${1:-}" = "metrics" ]; then
  shift
  python -m benchmarks.metrics_benchmark "$@"
else
  python -m benchmarks.release_benchmark "$@"
fi
