"""The monitoring settings in the environment: a guessable metrics token or a check-in URL that
could never work stops every process at start with one line (exit 2), not on the night the
release needed watching."""

import subprocess

import pytest

from vaults.tests.support.metrics import METRICS_TOKEN
from vaults.tests.support.stack import run_manage


def manage_check(**env: str) -> subprocess.CompletedProcess:
    return run_manage("check", **env)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"METRICS_BEARER_TOKEN": "abc123"}, "METRICS_BEARER_TOKEN is too short (6 characters, at least 32)"),
        ({"METRICS_BEARER_TOKEN": f"{METRICS_TOKEN} x"}, "METRICS_BEARER_TOKEN must not contain whitespace"),
        ({"AVENIR_RELEASE_CHECKIN_URL": "file:///etc/passwd"}, "AVENIR_RELEASE_CHECKIN_URL must be an http(s) URL"),
        ({"AVENIR_RELEASE_CHECKIN_URL": "hc-ping.com/uuid"}, "AVENIR_RELEASE_CHECKIN_URL must be an http(s) URL"),
        ({"AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS": "0"}, "AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS must be in (0, 30]"),
        ({"AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS": "120"}, "AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS must be in"),
    ],
)
def test_bad_monitoring_settings_stop_at_start_with_one_line(env, message):
    done = manage_check(**env)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
    assert "/etc/passwd" not in done.stderr and "abc123" not in done.stderr  # the value itself is not echoed


def test_good_values_start():
    done = manage_check(
        METRICS_BEARER_TOKEN=METRICS_TOKEN,
        AVENIR_RELEASE_CHECKIN_URL="https://hc-ping.com/0b7e1c2d-uuid?create=1",
        AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS="2.5",
    )
    assert done.returncode == 0, done.stderr
