#!/usr/bin/env bash
# The demo: installs, starts the embedded PostgreSQL of the checkout (.pgdata/) with a fresh
# database, migrates, seeds AVENIR lots that matured yesterday, runs the release job and
# prints the runbook's JSON. The server keeps running afterwards: runserver,
# audit_avenir_locks and the other commands work on the demo's data.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv requirements.txt
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
unset DATABASE_URL  # the embedded default
log "embedded PostgreSQL: a fresh vancelian database"
python -m common.embedded_postgres url --recreate >/dev/null

vesting_days=$(python -c 'import os; print(int(os.environ.get("AVENIR_VESTING_DAYS", 365)))')
deposit_day=$(python -c "import datetime as d; print(d.datetime.now(d.timezone.utc).date() - d.timedelta(days=$vesting_days + 1))")

python manage.py migrate --no-input -v 0
log "seeding 3 users x 1 lot of 10000.00 AED, deposited on $deposit_day"
python manage.py seed_avenir --users 3 --lots-per-user 1 --deposit-day "$deposit_day" >&2
log "release job (dry run first, then for real); JSON on stdout, logs on stderr"
python manage.py release_avenir_vesting --currency AED --dry-run >&2
python manage.py release_avenir_vesting --currency AED
