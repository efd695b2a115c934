"""Settings of the brute-force defences, used by settings.py: the shared cache, the API's
throttle rates, the admin lockout and the number of trusted proxies.

Each failure is an ImproperlyConfigured with a one-line message (manage.py: exit 2).
"""

import re
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

# DRF's rate syntax ("120/min"): DRF itself only reads the period's first letter.
_RATE = re.compile(r"^([1-9][0-9]{0,8})/(s|sec|second|m|min|minute|h|hour|d|day)$")
_REDIS_SCHEMES = ("redis", "rediss", "unix")
LOCAL_MEMORY = "locmem://"
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
LOCMEM_CACHE = "django.core.cache.backends.locmem.LocMemCache"
# Every wait is bounded: a Redis that hangs costs a request at most this long per call.
REDIS_SOCKET_TIMEOUT_SECONDS = 0.5


def throttle_rate(name: str, value: str) -> str:
    """'120/min' as DRF reads it; anything else stops the app with one line."""
    value = value.strip()
    if not _RATE.match(value):
        raise ImproperlyConfigured(f"{name} must be <requests>/<s|min|hour|day>, e.g. 120/min (got {value!r})")
    return value


Number = TypeVar("Number", int, float)


def positive(name: str, value: Number) -> Number:
    if not value > 0:
        raise ImproperlyConfigured(f"{name} must be positive (got {value:g})")
    return value


def trusted_proxy_count(value: int) -> int:
    if not 0 <= value <= 10:
        raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be in 0..10 (got {value})")
    return value


def cache_url(*, configured: str, broker_url: str) -> str:
    """The cache's URL: CACHE_URL when set; else the broker's Redis server, on the database
    after the broker's (so clearing the cache never flushes Celery's queues); else local
    memory, which only the demo and runserver should use (one process, nothing shared)."""
    if configured.strip():
        return configured.strip()
    if not broker_url.strip():
        return LOCAL_MEMORY
    parts = urlsplit(broker_url.strip())
    if parts.scheme not in ("redis", "rediss"):
        return LOCAL_MEMORY  # not a Redis broker: nothing to share
    database = parts.path.strip("/") or "0"
    if not database.isdigit():
        raise ImproperlyConfigured(f"CELERY_BROKER_URL has no valid Redis database number: {parts.path!r}")
    return urlunsplit(parts._replace(path=f"/{int(database) + 1}"))


def cache_settings(url: str) -> dict:
    """Django's CACHES["default"] for a cache URL: redis://, rediss://, unix:// or locmem://."""
    scheme = urlsplit(url).scheme
    if url == LOCAL_MEMORY:
        return {"BACKEND": LOCMEM_CACHE, "LOCATION": "vancelian"}
    if scheme not in _REDIS_SCHEMES:
        raise ImproperlyConfigured(f"CACHE_URL must be redis://, rediss://, unix:// or {LOCAL_MEMORY} (got {scheme!r})")
    return {
        "BACKEND": REDIS_CACHE,
        "LOCATION": url,
        "KEY_PREFIX": "vancelian",
        "OPTIONS": {
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
        },
    }
