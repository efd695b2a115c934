"""The production shape on this machine, for the chaos suite (vaults/tests/test_chaos.py):
a PostgreSQL server of its own, PgBouncer in transaction pooling mode in front of it, a
redis-server (append-only, as in compose), and the compose `worker` and `beat` commands,
every process reaching the database through PgBouncer with DEBUG off.

Each scenario gets a fresh database copied from a migrated template, and its own worker and
beat; the servers are shared, and restarted by the scenarios that restart them. Faults are
real: signals to real processes, a real server restart.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
from celery import Celery

from common import embedded_postgres
from common.tests.support.pgbouncer import PgBouncer
from vaults.services.schedule import TASK_NAME
from vaults.tests.support.production import env_example, strong_secret_key
from vaults.tests.support.stack import ROOT, local_argv, service_command, stop

TEMPLATE = "chaos_template"
# One row per scenario, printed as a table at the end of the session (vaults/tests/conftest.py).
REPORT: list[dict] = []
# A server like production's: durability on. Enough connections for PgBouncer's pools.
SERVER_SETTINGS = {"max_connections": "200", "shared_buffers": "256MB"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """redis-server on 127.0.0.1, append-only like compose's, restartable on its port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.workdir)),
                *("--appendonly", "yes", "--save", ""),
            ],
            stdout=open(self.workdir / "redis.log", "ab"),  # noqa: SIM115 - the process keeps it
            stderr=subprocess.STDOUT,
        )
        _wait_for_port(self.port, what="redis-server")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None


class ChaosStack:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.pgdata = workdir / "pgdata"
        self.server: dict = {}
        self.bouncer: PgBouncer | None = None
        self.redis = RedisServer(workdir / "redis")
        self.database = ""
        self.worker: subprocess.Popen | None = None
        self.beat: subprocess.Popen | None = None
        # Lots per chunk when not the deployment's own (a small run needs enough chunks for a
        # fault to fall in the middle of it).
        self.chunk_size: int | None = None

    # --- the shared servers -------------------------------------------------------------
    def start(self) -> "ChaosStack":
        socket_dir = embedded_postgres.configure(self.pgdata, SERVER_SETTINGS)
        self.server = {"HOST": str(socket_dir), "PORT": "", "USER": embedded_postgres.SUPERUSER}
        self.bouncer = PgBouncer(self.server).start()
        self.redis.start()
        embedded_postgres.create_database_if_missing(socket_dir, TEMPLATE)
        self.manage("migrate", "--no-input", "-v", "0", database=TEMPLATE, direct=True)
        self.manage("setup_avenir_schedule", database=TEMPLATE, direct=True)
        return self

    def stop(self) -> None:
        self.stop_services()
        if self.bouncer is not None:
            self.bouncer.stop()
        self.redis.stop()
        with contextlib.suppress(Exception):
            embedded_postgres.stop_server(self.pgdata, mode="immediate")

    def restart_postgres(self) -> None:
        """pg_ctl restart -m immediate: every session is cut without a checkpoint; the server
        recovers from its WAL as after a crash or a failover."""
        embedded_postgres.stop_server(self.pgdata, mode="immediate")
        embedded_postgres.ensure_server(self.pgdata)

    def restart_pgbouncer(self) -> None:
        assert self.bouncer is not None
        self.bouncer.restart()

    def restart_redis(self) -> None:
        self.redis.stop()
        self.redis.start()

    def set_server(self, name: str, value: str | None) -> None:
        """ALTER SYSTEM SET (None: RESET), then reload."""
        with self.direct("postgres", autocommit=True) as conn:
            if value is None:
                conn.execute(f"ALTER SYSTEM RESET {name}")
            else:
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            conn.execute("SELECT pg_reload_conf()")

    # --- one scenario's day ----------------------------------------------------------------
    def new_day(self, name: str) -> None:
        """A fresh database copied from the migrated template, and a worker and beat on it."""
        self.stop_services()
        with self.direct("postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        self.database = name

    def seed_matured(self, lots: int, today: date, vesting_days: int) -> None:
        users = max(1, lots // 10)
        self.manage(
            "seed_avenir",
            *("--users", str(users), "--lots-per-user", "10", "--method", "bulk"),
            *("--deposit-day", (today - timedelta(days=vesting_days)).isoformat()),
            direct=True,
        )

    def start_worker(self) -> None:
        self.worker = self._spawn("worker")

    def start_beat(self) -> None:
        self.beat = self._spawn("beat")

    def stop_services(self) -> None:
        for name in ("worker", "beat"):
            proc = getattr(self, name)
            if proc is not None:
                stop(proc)
                setattr(self, name, None)

    def kill_worker(self) -> None:
        """SIGKILL to the worker and its pool processes (an OOM kill, a lost node)."""
        assert self.worker is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=30)

    def restart_worker(self) -> None:
        """What a supervisor does after a crash."""
        self.worker = self._spawn("worker")

    def send_scheduled_release(self) -> None:
        """The message beat sends at 00:05 UTC: the scheduled task, kwargs only. On this stack's
        Redis through an explicit connection: Celery prefers a CELERY_BROKER_URL in the
        environment (scripts/test.sh exports its own) to the app's configured broker."""
        app = Celery(broker=self.redis.url)
        with app.connection_for_write(self.redis.url) as connection:
            app.send_task(TASK_NAME, kwargs={"currency": "AED"}, connection=connection)
        app.close()

    # --- access -----------------------------------------------------------------------------
    def env(self, *, direct: bool = False, database: str | None = None) -> dict[str, str]:
        """A deployment's environment (.env.example, DEBUG off) on this stack's database."""
        assert self.bouncer is not None
        name = database or self.database
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        env.update(env_example())
        env.update(
            DJANGO_SECRET_KEY=strong_secret_key(),
            CELERY_BROKER_URL=self.redis.url,
            TZ="UTC",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
        )
        if self.chunk_size:
            env["AVENIR_RELEASE_CHUNK_SIZE"] = str(self.chunk_size)
        if direct:
            env.update(
                DATABASE_URL=f"postgres://{self.server['USER']}@/{name}?host={self.server['HOST']}",
                DATABASE_POOLER="none",
            )
        else:
            env.update(DATABASE_URL=self.bouncer.database_url(name), DATABASE_POOLER="transaction")
        return env

    def manage(self, *args: str, database: str | None = None, direct: bool = False) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(direct=direct, database=database),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode not in (0, 1):
            raise AssertionError(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return done

    def direct(self, database: str | None = None, **kwargs) -> psycopg.Connection:
        """A session straight to the server (not through PgBouncer), for the observer."""
        return psycopg.connect(
            host=self.server["HOST"], user=self.server["USER"], dbname=database or self.database, **kwargs
        )

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Read by the observer; retried while the server restarts."""
        deadline = time.monotonic() + 60
        while True:
            try:
                with self.direct(autocommit=True, connect_timeout=5) as conn:
                    return conn.execute(sql, params).fetchall()
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def log_events(self, name: str) -> list[dict]:
        found = []
        for line in (self.workdir / f"{name}.log").read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
        return found

    def _spawn(self, service: str) -> subprocess.Popen:
        argv = local_argv(service_command(service))
        log = open(self.workdir / f"{service}.log", "ab")  # noqa: SIM115 - the process keeps it
        return subprocess.Popen(
            argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def report_table(rows: list[dict]) -> str:
    """The rows as a Markdown table (the README keeps one)."""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append(
            "| " + " | ".join(f"{row[c]:,}" if isinstance(row[c], int) else str(row[c]) for c in columns) + " |"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def chaos_stack():
    with tempfile.TemporaryDirectory(prefix="vancelian-chaos.") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)  # the server runs as another user under root
        stack = ChaosStack(workdir)
        try:
            yield stack.start()
        finally:
            stack.stop()


def _wait_for_port(port: int, *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")
