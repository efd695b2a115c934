"""DATABASE_URL strings for a Django DATABASES entry (subprocesses, shell scripts)."""

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote


def database_url(db: Mapping[str, Any]) -> str:
    """postgres://user:password@host:port/name; a Unix socket directory goes in `?host=`,
    which django-environ turns back into the connection's host."""
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = str(db.get("HOST") or "")
    name = quote(db["NAME"], safe="")
    if host.startswith("/"):
        return f"postgres://{auth}@/{name}?host={quote(host, safe='/')}"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{name}"
