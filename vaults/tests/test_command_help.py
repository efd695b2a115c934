"""`--help` of every command of ours ends with its exit codes."""

import subprocess
import sys

import pytest
from django.core.management import get_commands

from vaults.tests.support.stack import ROOT, subprocess_env

OUR_APPS = ("ledger", "vaults", "customer_api")
OUR_COMMANDS = sorted(name for name, app in get_commands().items() if app in OUR_APPS)


def test_every_command_of_ours_is_covered():
    assert {"release_avenir_vesting", "audit_avenir_locks", "api_token"} <= set(OUR_COMMANDS)


@pytest.mark.parametrize("command", OUR_COMMANDS)
def test_help_lists_the_exit_codes(command):
    done = subprocess.run(
        [sys.executable, "manage.py", command, "--help"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    codes = done.stdout.split("exit codes:\n", 1)[1].splitlines()
    listed = [line.split()[0] for line in codes if line.strip()]
    assert listed[0] == "0" and "2" in listed, done.stdout
    assert all(len(line.split(maxsplit=1)) == 2 for line in codes if line.strip()), "each code has a meaning"


def test_release_help_names_its_three_outcomes():
    done = subprocess.run(
        [sys.executable, "manage.py", "release_avenir_vesting", "--help"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    table = done.stdout.split("exit codes:\n", 1)[1]
    assert [line.split()[0] for line in table.splitlines() if line.strip()] == ["0", "1", "2"]
    assert "errors_count > 0" in table and "--as-of in the future" in table
