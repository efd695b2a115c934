"""DATABASE_POOLER: what sits between the app and PostgreSQL, read by settings.py.

Like secure_settings.py, a bad value is an ImproperlyConfigured with a one-line message:
manage.py prints it as `error: ...` and exits 2.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured

NONE = "none"
SESSION = "session"
TRANSACTION = "transaction"
POOLERS = (NONE, SESSION, TRANSACTION)


def database_pooler(value: str) -> str:
    """Unset or empty -> "none"; refuses anything but none, session, transaction."""
    pooler = value.strip().lower() or NONE
    if pooler not in POOLERS:
        raise ImproperlyConfigured(f"DATABASE_POOLER must be one of {', '.join(POOLERS)} (got {value!r})")
    return pooler


def configure_for_pooler(database: dict[str, Any], pooler: str) -> None:
    """Adapt a DATABASES entry in place. Behind a transaction pooler each transaction may run
    on another server session, so nothing may outlive a transaction on the session: no
    prepared statements (PgBouncer 1.18 cannot keep them) and no server-side cursors
    (`.iterator()` in autocommit declares WITH HOLD cursors, which outlive their transaction).
    Session pooling keeps one server session per client: nothing to change."""
    if pooler == TRANSACTION:
        # Django's default too; explicit so that OPTIONS can never turn them back on here.
        database.setdefault("OPTIONS", {})["prepare_threshold"] = None
        database["DISABLE_SERVER_SIDE_CURSORS"] = True
