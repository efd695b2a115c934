"""Run `manage.py` in a subprocess against the test database, as an operator would."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

from common.database_url import database_url


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`env` overrides the environment, e.g. manage("api_token", "--help", API_TOKEN_TTL_HOURS="0")."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "DATABASE_CONN_MAX_AGE": "0",
        "DJANGO_DEBUG": "true",
        "DJANGO_SECRET_KEY": "test-only-secret",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(settings.BASE_DIR),
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
