"""A throwaway PgBouncer (Debian's `pgbouncer` package) in front of a PostgreSQL server.

    with PgBouncer(settings.DATABASES["default"]) as bouncer:
        url = bouncer.database_url("test_postgres")   # postgres://postgres@127.0.0.1:PORT/test_postgres

It listens on 127.0.0.1 on a free port, routes any database name to the same server (a
wildcard entry, so pytest-django's test database needs no entry of its own), trusts its
clients (the tests' servers trust theirs) and writes its ini and log in a temporary folder
of its own. PgBouncer refuses to run as root: under root it runs as the owner of the
server's socket directory (`pgserver` for the embedded server), which can reach the socket.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import psycopg

from common.database_url import database_url

START_TIMEOUT = 15  # seconds: PgBouncer starts in milliseconds
STOP_TIMEOUT = 10
ATTEMPTS = 3  # another process may take the free port between its choice and PgBouncer's bind
ADMIN_DATABASE = "pgbouncer"  # PgBouncer's own console (SHOW POOLS, SHOW CONFIG, ...)


def pgbouncer_binary() -> str:
    """Debian installs it in /usr/sbin, which is not on every user's PATH."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError("pgbouncer is not installed (Debian: apt-get install pgbouncer; scripts/test.sh does it)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quote(value: str) -> str:
    """A value inside a libpq-style connection string of the [databases] section."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class PgBouncer:
    """PgBouncer in front of the server of a Django DATABASES entry (HOST: a host name or a
    Unix socket directory, PORT, USER, PASSWORD; NAME is not used: any name is routed)."""

    def __init__(
        self,
        server: Mapping[str, Any],
        *,
        pool_mode: str = "transaction",
        default_pool_size: int = 20,
        max_client_conn: int = 400,
    ) -> None:
        self.server_host = str(server.get("HOST") or "/var/run/postgresql")
        self.server_port = int(server.get("PORT") or 5432)
        self.user = server.get("USER") or pwd.getpwuid(os.geteuid()).pw_name
        self.password = server.get("PASSWORD") or ""
        self.pool_mode = pool_mode
        self.default_pool_size = default_pool_size
        self.max_client_conn = max_client_conn
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.workdir: Path | None = None
        self._process: subprocess.Popen | None = None

    # --- addresses -------------------------------------------------------------------
    def settings_dict(self, database: Mapping[str, Any]) -> dict[str, Any]:
        """`database` (a DATABASES entry) reached through this PgBouncer."""
        return {**database, "HOST": self.host, "PORT": str(self.port)}

    def database_url(self, dbname: str) -> str:
        return database_url({"USER": self.user, "PASSWORD": self.password, "NAME": dbname, **self._address()})

    def subprocess_env(self, dbname: str, **extra: str) -> dict[str, str]:
        """os.environ for a process (`manage.py ...`) that reaches `dbname` through this PgBouncer,
        configured for this pool mode (DATABASE_POOLER)."""
        return {**os.environ, "DATABASE_URL": self.database_url(dbname), "DATABASE_POOLER": self.pool_mode, **extra}

    def connect(self, dbname: str, **kwargs: Any) -> psycopg.Connection:
        """A psycopg connection to `dbname` through PgBouncer. Without automatic prepared
        statements (prepare_threshold=None), as DATABASE_POOLER=transaction configures Django."""
        kwargs.setdefault("prepare_threshold", None)
        kwargs.setdefault("connect_timeout", 5)
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password or None, dbname=dbname, **kwargs
        )

    def admin(self) -> psycopg.Connection:
        """PgBouncer's admin console (simple queries only: psycopg sends those without parameters)."""
        return self.connect(ADMIN_DATABASE, autocommit=True)

    def show(self, what: str) -> list[dict[str, Any]]:
        """`SHOW <what>` on the admin console (CONFIG, POOLS, DATABASES, ...) as dicts."""
        if not what.replace("_", "").isalpha():
            raise ValueError(f"not a SHOW command: {what!r}")
        with self.admin() as conn, conn.cursor() as cursor:
            cursor.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def log(self) -> str:
        if self.workdir is None or not (self.workdir / "pgbouncer.log").exists():
            return ""
        return (self.workdir / "pgbouncer.log").read_text(errors="replace")

    def _address(self) -> dict[str, str]:
        return {"HOST": self.host, "PORT": str(self.port)}

    # --- process ---------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Self:
        if self._process is not None:
            return self
        run_as = self._run_as()
        self.workdir = Path(tempfile.mkdtemp(prefix="vancelian-pgbouncer."))
        if run_as:
            shutil.chown(self.workdir, user=run_as)
        try:
            for attempt in range(1, ATTEMPTS + 1):
                self.port = free_port()
                self._write_files(run_as)
                if self._launch(run_as, last=attempt == ATTEMPTS):
                    return self
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable")  # _launch(last=True) raises instead of returning False

    def stop(self) -> None:
        """Immediate shutdown (SIGTERM): its server connections close, so the server's
        database can be dropped next. Removes its folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def restart(self, *, down_seconds: float = 1.0) -> None:
        """Stop the process (SIGTERM: immediate shutdown, every client and server connection
        cut) and start it again on the same port and files, as a deploy or a crash loop does."""
        assert self._process is not None and self.workdir is not None
        process, self._process = self._process, None
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT)
        time.sleep(down_seconds)
        self._launch(self._run_as(), last=True)

    def _run_as(self) -> str | None:
        """PgBouncer refuses root: the owner of the server's socket directory, else nobody."""
        if os.geteuid() != 0:
            return None
        if self.server_host.startswith("/"):
            owner = pwd.getpwuid(os.stat(self.server_host).st_uid).pw_name
            if owner != "root":
                return owner
        return "nobody"

    def _write_files(self, run_as: str | None) -> None:
        assert self.workdir is not None
        server = f"host={_quote(self.server_host)} port={self.server_port}"
        user, password = (value.replace('"', '""') for value in (self.user, self.password))  # its quoting
        (self.workdir / "userlist.txt").write_text(f'"{user}" "{password}"\n')
        ini = f"""\
[databases]
* = {server}

[pgbouncer]
listen_addr = {self.host}
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.workdir / "userlist.txt"}
admin_users = {self.user}
pool_mode = {self.pool_mode}
max_client_conn = {self.max_client_conn}
default_pool_size = {self.default_pool_size}
; Sent at startup by some drivers (JDBC); PgBouncer refuses parameters it does not track.
; Not `options`: a client's `-c name=value` must fail loudly, not be dropped.
ignore_startup_parameters = extra_float_digits
; A database that does not exist yet (created by the tests) must not block its pool for 15 s.
server_login_retry = 1
logfile = {self.workdir / "pgbouncer.log"}
log_connections = 0
log_disconnections = 0
"""
        (self.workdir / "pgbouncer.ini").write_text(ini)
        if run_as:
            for name in ("userlist.txt", "pgbouncer.ini"):
                shutil.chown(self.workdir / name, user=run_as)

    def _launch(self, run_as: str | None, *, last: bool) -> bool:
        """Start the process and wait until it accepts connections; False if the port was taken."""
        assert self.workdir is not None
        (self.workdir / "pgbouncer.log").unlink(missing_ok=True)  # a failed attempt's
        command = [pgbouncer_binary(), *(["-u", run_as] if run_as else []), str(self.workdir / "pgbouncer.ini")]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                log = self.log()
                if "Address already in use" in log and not last:
                    return False
                raise RuntimeError(f"pgbouncer exited at start:\n{log[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not accept connections within {START_TIMEOUT} s:\n{self.log()[-2000:]}")
