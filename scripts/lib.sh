# Shared helpers for scripts/*.sh (sourced, not run).
# They install what a fresh Debian 12 machine lacks and start throwaway services.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

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

# start_pg [extra postgres -c options...]: a throwaway PostgreSQL 15 cluster on
# 127.0.0.1. initdb refuses to run as root, so the server runs as `postgres` then.
# Exports DATABASE_URL and PG_TMP; stop_pg removes everything.
start_pg() {
  [ -x "$PG_BIN/initdb" ] || ensure_apt postgresql-15
  PG_TMP="$(mktemp -d /tmp/vancelian-pg.XXXXXX)"
  PG_PORT="$(free_port)"
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$PG_TMP"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  local opts="-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_TMP -c max_connections=200 $*"
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 -o "$opts" start >/dev/null
  export PG_TMP PG_PORT
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/vancelian"
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres vancelian
  log "PostgreSQL 15 on 127.0.0.1:$PG_PORT ($PG_TMP)"
}

stop_pg() {
  [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP/data" ] || return 0
  local as=()
  [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate stop >/dev/null 2>&1 || true
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
