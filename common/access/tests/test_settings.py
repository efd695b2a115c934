"""How settings.py reads the cache, the throttle rates and the lockout limits (vancelian/access_settings.py).
The one-line refusals through manage.py are in vaults/tests/test_production_settings.py."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from vancelian.access_settings import (
    LOCAL_MEMORY,
    LOCMEM_CACHE,
    REDIS_CACHE,
    cache_settings,
    cache_url,
    positive,
    throttle_rate,
    trusted_proxy_count,
)


@pytest.mark.parametrize(
    ("configured", "broker", "expected"),
    [
        ("", "redis://redis:6379/0", "redis://redis:6379/1"),  # compose: the broker's next database
        ("", "redis://:pw@redis:6379/4?ssl_cert_reqs=none", "redis://:pw@redis:6379/5?ssl_cert_reqs=none"),
        ("", "rediss://redis.example.com:6380", "rediss://redis.example.com:6380/1"),
        ("", "", LOCAL_MEMORY),  # no broker configured: the demo
        ("", "amqp://guest@rabbit//", LOCAL_MEMORY),
        ("redis://cache:6379/0", "redis://redis:6379/0", "redis://cache:6379/0"),  # CACHE_URL wins
        ("locmem://", "redis://redis:6379/0", LOCAL_MEMORY),
    ],
)
def test_the_cache_follows_the_broker_unless_told_otherwise(configured, broker, expected):
    assert cache_url(configured=configured, broker_url=broker) == expected


def test_a_broker_url_with_a_bad_database_is_refused():
    with pytest.raises(ImproperlyConfigured, match="database number"):
        cache_url(configured="", broker_url="redis://redis:6379/queues")


def test_redis_urls_become_django_redis_caches_with_bounded_waits():
    config = cache_settings("redis://redis:6379/1")

    assert config["BACKEND"] == REDIS_CACHE and config["LOCATION"] == "redis://redis:6379/1"
    assert config["OPTIONS"]["socket_connect_timeout"] > 0 and config["OPTIONS"]["socket_timeout"] > 0
    assert cache_settings(LOCAL_MEMORY)["BACKEND"] == LOCMEM_CACHE


@pytest.mark.parametrize("url", ["memcached://cache:11211", "http://cache", "locmem"])
def test_other_cache_urls_are_refused(url):
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        cache_settings(url)


@pytest.mark.parametrize("rate", ["120/min", "30/m", "5/s", "1000/hour", "10000/day", " 120/min "])
def test_drf_rates_are_accepted(rate):
    assert throttle_rate("API_THROTTLE_USER_RATE", rate) == rate.strip()


@pytest.mark.parametrize(
    "rate", ["", "120", "0/min", "-1/min", "120/minutes", "120 / min", "1.5/s", "many/min", "120/week"]
)
def test_anything_else_is_refused(rate):
    with pytest.raises(ImproperlyConfigured, match="API_THROTTLE_USER_RATE"):
        throttle_rate("API_THROTTLE_USER_RATE", rate)


def test_limits_and_proxy_counts_are_bounded():
    assert positive("ADMIN_LOGIN_FAILURE_LIMIT", 5) == 5
    with pytest.raises(ImproperlyConfigured, match="ADMIN_LOGIN_COOLOFF_SECONDS"):
        positive("ADMIN_LOGIN_COOLOFF_SECONDS", 0.0)
    assert trusted_proxy_count(0) == 0
    for bad in (-1, 11):
        with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXY_COUNT"):
            trusted_proxy_count(bad)
