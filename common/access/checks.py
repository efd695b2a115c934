"""System checks: the counts behind the API's throttles must be shared by every worker, and the
client address must not be a proxy's."""

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

# Caches that each process keeps to itself (or not at all).
PROCESS_LOCAL_CACHES = frozenset(
    {"django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache"}
)


@register(Tags.security, Tags.caches)
def shared_cache_check(app_configs, **kwargs) -> list[CheckMessage]:
    backend = settings.CACHES["default"]["BACKEND"]
    if settings.DEBUG or backend not in PROCESS_LOCAL_CACHES:
        return []
    return [
        Warning(
            f"The default cache is {backend.rsplit('.', 1)[-1]}, private to each process: every gunicorn "
            "worker and pod counts the API's throttle limits on its own, so a client gets that many times the limit.",
            hint="Set CELERY_BROKER_URL to the broker's Redis (the cache uses its next database) or CACHE_URL=redis://...",
            id="access.W001",
        )
    ]


@register(Tags.security)
def proxy_address_check(app_configs, **kwargs) -> list[CheckMessage]:
    if settings.SECURE_PROXY_SSL_HEADER is None or settings.TRUSTED_PROXY_COUNT > 0:
        return []
    return [
        Warning(
            "A TLS proxy is in front of the app (DJANGO_SECURE_PROXY_SSL_HEADER) but TRUSTED_PROXY_COUNT is 0: "
            "every client has the proxy's address, so one client's failed logins and requests lock out and "
            "throttle all of them.",
            hint="Set TRUSTED_PROXY_COUNT to the number of proxies that append to X-Forwarded-For (usually 1).",
            id="access.W002",
        )
    ]
