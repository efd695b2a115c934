"""Production settings (DEBUG off), checked the way an operator meets them: through manage.py
in a subprocess with the environment of `.env.example`."""

import subprocess
import sys

import pytest

from vaults.tests.support.production import env_example, production_env
from vaults.tests.support.stack import ROOT

pytestmark = pytest.mark.django_db  # the subprocesses get the test database's URL


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_the_env_example():
    done = manage("check", "--deploy", "--fail-level", "DEBUG", env=production_env())

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout, done.stdout + done.stderr


def test_debug_off_turns_every_https_protection_on_by_default():
    env = production_env()
    for name in list(env):
        if name.startswith(("DJANGO_SECURE_", "DJANGO_SESSION_COOKIE", "DJANGO_CSRF_COOKIE")):
            del env[name]  # only the defaults are left
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SECURE_PROXY_SSL_HEADER)"
    )

    done = manage("shell", "-v", "0", "-c", code, env=env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"] * 6 + ["None"]


def test_each_https_protection_can_be_turned_off_by_its_variable():
    env = production_env(
        DJANGO_SESSION_COOKIE_SECURE="false",
        DJANGO_CSRF_COOKIE_SECURE="false",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_HSTS_SECONDS="0",
        DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_SCHEME,https",
    )
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "*s.SECURE_PROXY_SSL_HEADER)"
    )

    done = manage("shell", "-v", "0", "-c", code, env=env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "False", "0", "HTTP_X_FORWARDED_SCHEME", "https"]


@pytest.mark.parametrize(
    "secret",
    [
        env_example()["DJANGO_SECRET_KEY"],  # the placeholder, as copied
        "",
        "benchmark-only-secret",
        "insecure-" + "x" * 60,
        "django-insecure-" + "k3y" * 20,
        "ab" * 40,  # long, but only 2 distinct characters
        "s3cr3t-but-only-forty-nine-characters-long-12345",
    ],
)
def test_debug_off_refuses_a_placeholder_or_weak_secret_in_one_line(secret):
    done = manage("check", env=production_env(DJANGO_SECRET_KEY=secret))

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: DJANGO_SECRET_KEY ")
    assert "Traceback" not in done.stderr


def test_a_release_with_a_missing_secret_is_one_line_and_exit_2_not_1():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]

    done = manage("release_avenir_vesting", "--dry-run", env=env)

    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off; "
        "generate one: python -c 'import secrets; print(secrets.token_urlsafe(50))'\n"
    )


def test_an_invalid_setting_value_is_one_line_and_exit_2():
    done = manage("check", env=production_env(AVENIR_RELEASE_CHUNK_SIZE="many"))

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr


def test_a_malformed_proxy_header_setting_is_refused_in_one_line():
    done = manage("check", env=production_env(DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto"))

    assert done.returncode == 2
    assert done.stderr.startswith("error: DJANGO_SECURE_PROXY_SSL_HEADER ") and done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_THROTTLE_USER_RATE", "fast"),
        ("API_THROTTLE_ANON_RATE", "0/min"),
        ("ADMIN_LOGIN_FAILURE_LIMIT", "0"),
        ("ADMIN_LOGIN_FAILURE_LIMIT", "many"),
        ("ADMIN_LOGIN_COOLOFF_SECONDS", "-5"),
        ("TRUSTED_PROXY_COUNT", "-1"),
        ("CACHE_URL", "memcached://cache:11211"),
    ],
)
def test_a_bad_brute_force_defence_setting_is_one_line_and_exit_2(name, value):
    done = manage("check", env=production_env(**{name: value}))

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr


def test_check_deploy_warns_when_the_throttle_counts_would_not_be_shared():
    """Without a broker (nor CACHE_URL), the cache is local memory: fine for the demo, not with DEBUG off."""
    env = production_env()
    del env["CELERY_BROKER_URL"]

    done = manage("check", "--deploy", env=env)

    assert done.returncode == 0, done.stderr
    assert "access.W001" in done.stderr and "access.W002" not in done.stderr
