"""The release's limits in the environment: a value that could let a live run be taken
over, or a bound that makes no sense, stops every command at start with one line (exit 2)."""

import subprocess

import pytest

from vaults.tests.support.stack import run_manage


def manage_with(**env: str) -> subprocess.CompletedProcess:
    return run_manage("release_avenir_vesting", "--dry-run", **env)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AVENIR_RELEASE_LEASE_SECONDS": "45"}, "AVENIR_RELEASE_LEASE_SECONDS must be more than 3 times"),
        (
            {"AVENIR_RELEASE_IDLE_IN_TRANSACTION_SECONDS": "50"},
            "a frozen run would still hold its rows when another run takes over",
        ),
        ({"AVENIR_RELEASE_RECONNECT_SECONDS": "0"}, "AVENIR_RELEASE_RECONNECT_SECONDS must be positive"),
        ({"AVENIR_RELEASE_HEARTBEAT_SECONDS": "0"}, "AVENIR_RELEASE_HEARTBEAT_SECONDS must be positive"),
        ({"AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS": "-1"}, "AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS must be positive"),
        (
            {"AVENIR_RELEASE_WORKERS": "9"},
            "AVENIR_RELEASE_WORKERS must be between 1 and AVENIR_RELEASE_MAX_WORKERS (8)",
        ),
        ({"AVENIR_RELEASE_CHUNK_SIZE": "0"}, "AVENIR_RELEASE_CHUNK_SIZE must be between 1 and"),
        ({"AVENIR_RELEASE_STATEMENT_TIMEOUT_SECONDS": "abc"}, "invalid setting in the environment"),
    ],
)
def test_bad_release_limits_stop_at_start_with_one_line(env, message):
    done = manage_with(**env)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
