#!/usr/bin/env bash
# The release benchmark on a throwaway PostgreSQL (default durability settings): the embedded
# PostgreSQL 18, or with --pg 15 Debian's PostgreSQL 15 (installed when missing).
# Usage: scripts/bench.sh [--pg 15] [--lots 200000] [--history 1000000] [--lots-per-user 10]
#        scripts/bench.sh audit [--pg 15] [--lots 100000]       (the lock audit)
#        scripts/bench.sh verify [--pg 15] [--history 1000000] [--pending 200000]   (verify_ledger)
#        scripts/bench.sh customers [--pg 15] [--lots 200000] [--customers 2000000]
#                                  (the same release beside millions of other customers)
#        scripts/bench.sh --compare REV [--pg 15] [--lots 200000] [--history 0] [--rounds 3]
#                                  (this checkout's release beside REV's, on the same data)
#        scripts/bench.sh chunks [--lots 200000] [--sizes 1000,2000,5000,10000] [--rounds 3]
#                                  (the release at several values of a setting, --setting NAME)
#        scripts/bench.sh throttle [--users 20] [--rounds 100]   (the API's rate limits, on Redis)
#        scripts/bench.sh metrics [--history 1000000] [--pending 200000]  (a /metrics scrape)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
pg=18
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--pg" ]; then
    pg="${2:?--pg needs a major version, e.g. --pg 15}"
    shift 2
  else
    args+=("$1")
    shift
  fi
done
set -- "${args[@]}"
ensure_venv requirements-dev.txt
trap 'stop_redis; stop_pg' EXIT
start_pg --pg "$pg" shared_buffers=1GB max_wal_size=4GB
# The throttle counts live in the shared cache: the broker's Redis, as in production.
if [ "${1:-}" = "throttle" ]; then
  start_redis
fi
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
elif [ "${1:-}" = "customers" ]; then
  shift
  python -m benchmarks.user_base_benchmark "$@"
elif [ "${1:-}" = "chunks" ]; then
  shift
  python -m benchmarks.chunk_sweep "$@"
elif [ "${1:-}" = "--compare" ]; then
  python -m benchmarks.compare "$@"
elif [ "${1:-}" = "throttle" ]; then
  shift
  python -m benchmarks.throttle_benchmark "$@"
elif [ "${1:-}" = "metrics" ]; then
  shift
  python -m benchmarks.metrics_benchmark "$@"
else
  python -m benchmarks.release_benchmark "$@"
fi
