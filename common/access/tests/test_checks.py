"""System checks: counts private to each process, or a proxy's address taken for every client."""

from django.core.checks import run_checks

from vancelian.access_settings import LOCMEM_CACHE, REDIS_CACHE

PROXY_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def ids(settings) -> set[str]:
    return {message.id for message in run_checks(tags=["security"]) if message.id.startswith("access.")}


def test_a_local_memory_cache_with_debug_off_is_flagged(settings):
    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": LOCMEM_CACHE}}

    assert "access.W001" in ids(settings)


def test_a_redis_cache_or_debug_on_is_not(settings):
    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": "redis://127.0.0.1:6379/1"}}
    assert "access.W001" not in ids(settings)

    settings.DEBUG = True
    settings.CACHES = {"default": {"BACKEND": LOCMEM_CACHE}}
    assert "access.W001" not in ids(settings)


def test_a_tls_proxy_with_no_trusted_proxy_count_is_flagged(settings):
    settings.SECURE_PROXY_SSL_HEADER = PROXY_HEADER
    settings.TRUSTED_PROXY_COUNT = 0
    assert "access.W002" in ids(settings)

    settings.TRUSTED_PROXY_COUNT = 1
    assert "access.W002" not in ids(settings)

    settings.SECURE_PROXY_SSL_HEADER = None
    settings.TRUSTED_PROXY_COUNT = 0
    assert "access.W002" not in ids(settings)
