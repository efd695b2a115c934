"""docker-compose.yml, Dockerfile and .env.example. No Docker engine runs here, so the
file is parsed and checked, and the services' own commands are run locally (the e2e
test starts worker and beat from them; migrate and web are run below)."""

import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands
from django_celery_beat.models import PeriodicTask

from vaults.services.schedule import SCHEDULE_NAME
from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.production import env_example, free_port
from vaults.tests.support.stack import ROOT, compose, local_argv, running, service_command, subprocess_env

APP_SERVICES = ("web", "worker", "beat")


def environment(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


def test_services_and_their_order():
    services = compose()["services"]
    assert set(services) >= {"postgres", "redis", "migrate", *APP_SERVICES}
    assert services["postgres"]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"]
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert "redis" in depends, name
    # migrate is a one-off that only needs the database.
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name, service in services.items():
        assert environment(service).get("TZ") == "UTC", name
    for name in ("migrate", *APP_SERVICES):
        env = environment(services[name])
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"], name
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0", name


def test_commands():
    assert service_command("migrate")[:2] == ["sh", "-c"]
    steps = [step.split() for step in service_command("migrate")[2].split("&&")]
    assert steps == [
        ["python", "manage.py", "migrate", "--noinput"],
        ["python", "manage.py", "setup_avenir_schedule"],
    ]
    assert "setup_avenir_schedule" in get_commands() and "avenir_schedule_status" in get_commands()
    assert service_command("web")[:2] == ["gunicorn", "vancelian.wsgi:application"]
    assert service_command("worker")[:4] == ["celery", "-A", "vancelian", "worker"]
    beat = service_command("beat")
    assert beat[:4] == ["celery", "-A", "vancelian", "beat"]
    assert "--scheduler=django_celery_beat.schedulers:DatabaseScheduler" in beat
    assert "--pidfile=" in beat  # no stale pidfile blocks a restarted container
    service = compose()["services"]["beat"]
    assert service["deploy"]["replicas"] == 1
    assert service["container_name"]  # `--scale beat=2` is refused: one beat only


def test_env_example_documents_every_variable():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    in_compose = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))
    in_settings = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', (ROOT / "vancelian/settings.py").read_text()))
    assert in_compose and in_settings
    assert in_compose - documented == set()
    assert in_settings - documented == set()


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M)
    assert "pip install -r requirements.txt" in text
    assert "TZ=UTC" in text
    assert compose()["x-app"]["build"] == "."


@pytest.mark.django_db(transaction=True)
def test_the_migrate_service_command_runs(tmp_path):
    """The exact compose command, against the test database: migrate, then the schedule."""
    PeriodicTask.objects.all().delete()
    env = subprocess_env()
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # `python` is the venv's, as in the image
    done = subprocess.run(service_command("migrate"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout
    task = PeriodicTask.objects.get(name=SCHEDULE_NAME)
    assert task.enabled and task.crontab.minute == "5" and task.crontab.hour == "0"


@pytest.mark.django_db(transaction=True)
def test_the_web_service_command_serves_the_admin(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = local_argv(service_command("web"))
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"

    def login_page() -> int | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as response:
                return response.status
        except OSError:
            return None

    with running(argv, env=subprocess_env(), log_path=tmp_path / "web.log") as web:
        status = wait_for(login_page, timeout=30, what="gunicorn to serve /admin/login/")
        assert web.poll() is None
    assert status == 200


def test_the_monitoring_profile_adds_prometheus_with_the_shipped_rules():
    spec = compose()
    prometheus = spec["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]  # `docker compose up` alone does not start it
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    # The token reaches Prometheus as a file, from the same variable the web service reads.
    assert prometheus["secrets"] == ["metrics_token"]
    assert spec["secrets"]["metrics_token"] == {"environment": "METRICS_BEARER_TOKEN"}
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    [job] = scrape["scrape_configs"]
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert job["static_configs"] == [{"targets": ["web:8000"]}]
    # Prometheus scrapes with Host "web": allowed by default in compose and in .env.example.
    assert "web" in environment(spec["x-app"])["DJANGO_ALLOWED_HOSTS"].split(":-")[1].rstrip("}").split(",")
    assert "web" in env_example()["DJANGO_ALLOWED_HOSTS"].split(",")
    # The server version the tests run (Debian's package) is the image's.
    version = subprocess.run(["prometheus", "--version"], capture_output=True, text=True, timeout=30)
    debian = re.search(r"version (\d+\.\d+\.\d+)", version.stdout + version.stderr).group(1)
    assert prometheus["image"] == f"prom/prometheus:v{debian}"


@pytest.mark.django_db(transaction=True)
def test_the_services_healthchecks_pass_against_a_ready_stack(web):
    """The web healthcheck (readiness over HTTP) against gunicorn, and the worker's and beat's
    (the readiness checks in a fresh process) against the test database and broker."""
    services = compose()["services"]
    web_check = services["web"]["healthcheck"]["test"]
    assert web_check[0] == "CMD" and "/health/ready/" in web_check[-1]
    probe = web_check[-1].replace("http://127.0.0.1:8000", web.base)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr

    for name in ("worker", "beat"):
        test = services[name]["healthcheck"]["test"]
        assert test[:2] == ["CMD", "python"], name
        done = subprocess.run(
            local_argv(test[1:]), cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Migrations(alias='default'): OK" in done.stdout and "Redis(" in done.stdout

    # And a broker that is down makes them fail.
    env = {**subprocess_env(), "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    test = services["worker"]["healthcheck"]["test"]
    done = subprocess.run(local_argv(test[1:]), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Unavailable" in done.stdout
