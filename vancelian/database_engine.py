"""DATABASE_URL's engine, read by settings.py: PostgreSQL only, through the project's backend
(common.db.postgresql), which refuses a server older than the oldest supported version.

Like database_pooler.py, a bad value is an ImproperlyConfigured with a one-line message:
manage.py prints it as `error: ...` and exits 2.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured

DJANGO_POSTGRESQL = "django.db.backends.postgresql"  # what django-environ reads from postgres://
ENGINE = "common.db.postgresql"


def use_project_backend(database: dict[str, Any]) -> None:
    """Put the project's backend in a DATABASES entry parsed from DATABASE_URL, in place."""
    if database.get("ENGINE") != DJANGO_POSTGRESQL:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a PostgreSQL URL (postgres://user:password@host:5432/db), got engine "
            f"{database.get('ENGINE')!r}"
        )
    database["ENGINE"] = ENGINE
