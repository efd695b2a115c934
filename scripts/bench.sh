#!/usr/bin/env bash
# The release benchmark on a throwaway PostgreSQL 15 cluster (default durability settings).
# Usage: scripts/bench.sh [--lots 200000] [--history 1000000] [--lots-per-user 10]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv requirements-dev.txt
trap stop_pg EXIT
start_pg -c shared_buffers=1GB -c max_wal_size=4GB
export DJANGO_DEBUG=true LOG_LEVEL=WARNING
python manage.py migrate --no-input -v 0
python -m benchmarks.release_benchmark "$@"
