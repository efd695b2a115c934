"""The health probes (django-health-check): liveness answers while the process does; readiness
answers 503 while PostgreSQL is stopped, the migrations are not applied or the broker is down,
and 200 once everything is back. Real parts: gunicorn with DEBUG off (the compose web command)
on a throwaway embedded PostgreSQL of the test's own, stopped and started again; the
session's test server is never touched."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from common.embedded_postgres import stop_server
from common.tests.support.embedded_postgres import cli
from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.metrics import METRICS_TOKEN
from vaults.tests.support.production import fetch, free_port, production_env
from vaults.tests.support.stack import ROOT, local_argv, running, service_command

pytestmark = pytest.mark.slow


def probe(base: str, path: str) -> tuple[int, dict]:
    reply = fetch(f"{base}{path}", tls=False)  # plain HTTP, as a container probe sends it
    assert reply.headers["Content-Type"] == "application/json", reply.body
    assert "no-cache" in reply.headers.get("Cache-Control", "")
    return reply.status, json.loads(reply.body)


def test_readiness_follows_the_database_and_its_migrations(tmp_path: Path, settings):
    pgdata = tmp_path / "pg"
    url = cli("url", "--data", str(pgdata))
    try:
        env = production_env(
            DATABASE_URL=url, DJANGO_STATIC_ROOT=str(tmp_path / "static"), METRICS_BEARER_TOKEN=METRICS_TOKEN
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        argv = local_argv(service_command("web"))
        argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
        with running(argv, env=env, log_path=tmp_path / "web.log"):
            wait_for(lambda: _status(base, "/health/live/") == 200, timeout=60, what="gunicorn to answer")

            # A new database: reachable, broker reachable, but no migration applied.
            status, body = probe(base, "/health/ready/")
            assert status == 503 and body["status"] == "unavailable"
            assert body["checks"]["Database(alias='default')"] == "OK"
            assert body["checks"]["Migrations(alias='default')"].endswith("migration(s) not applied")
            assert [value for name, value in body["checks"].items() if name.startswith("Redis(")] == ["OK"]

            migrated = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert migrated.returncode == 0, migrated.stderr
            assert probe(base, "/health/ready/") == (
                200,
                {"status": "ok", "checks": {name: "OK" for name in body["checks"]}},
            )
            assert _metrics(base).status == 200

            # PostgreSQL stops: not ready (at once, not after a hang), still alive.
            cli("stop", "--data", str(pgdata), "--mode", "immediate")
            status, body = probe(base, "/health/ready/")
            assert status == 503 and body["status"] == "unavailable"
            assert body["checks"]["Database(alias='default')"].startswith("Unavailable")
            assert body["checks"]["Migrations(alias='default')"] == "Unavailable: cannot read the applied migrations"
            assert "password" not in json.dumps(body).lower() and url not in json.dumps(body)
            assert probe(base, "/health/live/") == (200, {"status": "ok", "checks": {}})
            down = _metrics(base)  # the scrape fails in JSON, and Prometheus records the target down
            assert down.status == 503 and json.loads(down.body)["error"] == "database_unavailable"

            # It comes back (same data, same socket): ready again, with no restart of gunicorn.
            assert cli("url", "--data", str(pgdata)) == url
            wait_for(lambda: _status(base, "/health/ready/") == 200, timeout=30, what="readiness after the restart")
            assert _metrics(base).status == 200
    finally:
        stop_server(pgdata, mode="immediate")


def _status(base: str, path: str) -> int | None:
    try:
        return fetch(f"{base}{path}", tls=False).status
    except OSError:
        return None


def _metrics(base: str):
    return fetch(f"{base}/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"}, tls=False)


@pytest.mark.django_db
def test_readiness_answers_503_while_the_broker_is_down(client):
    ready = client.get("/health/ready/")
    assert ready.status_code == 200, ready.content
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"):  # nothing listens there
        down = client.get("/health/ready/")
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable"
    [broker] = [value for name, value in body["checks"].items() if name.startswith("Redis(")]
    assert broker.startswith("Unavailable: Unable to connect to Redis")
    assert body["checks"]["Database(alias='default')"] == "OK"
    assert client.get("/health/live/").status_code == 200
