"""The API's rate limits: DRF's throttles, counting in the shared cache (Redis in production).

- `UserThrottle`: requests per authenticated user (all of a user's tokens together), checked
  after authentication like any DRF throttle.
- `FailedAuthenticationThrottle`: requests per client address that carry no valid token
  (missing, another scheme, invalid, expired, revoked). DRF authenticates before it throttles,
  so a made-up token never reaches a throttle class: `ThrottledAPIView` asks this one before
  authenticating (and refuses the request, whatever its token, while the address is over the
  limit: else a guess that hit a valid token would still get through), and counts the request
  once its authentication has failed.

Both answer Retry-After with the exact time until the oldest request that keeps the client over
the limit leaves the window (DRF's own estimate divides it by the requests left, and gives up
when there are none). If the cache cannot be reached they let the request through and log it:
a Redis restart must not take the API down with it.
"""

import ipaddress
from typing import TYPE_CHECKING

import structlog
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from common.access.client_ip import client_ip

if TYPE_CHECKING:  # rest_framework.views imports the throttle classes named in the settings
    from rest_framework.views import APIView

log = structlog.get_logger(__name__)

CACHE_ERRORS = (RedisError, OSError)
# An IPv6 client usually holds a whole /64: one address there is one client.
IPV6_CLIENT_PREFIX = 64


class SharedCacheThrottle(SimpleRateThrottle):
    """DRF's sliding-window throttle with an exact Retry-After, open when the cache is down."""

    def get_rate(self) -> str | None:
        # Read when the throttle is built, not when DRF's module was imported.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: "APIView") -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            _cache_unavailable(self.scope, exc)
            return True

    def wait(self) -> float | None:
        if len(self.history) < self.num_requests:
            return None
        # The newest `num_requests` requests keep the client over the limit until the oldest of
        # them is older than the window.
        oldest = self.history[self.num_requests - 1]
        return max(1.0, oldest + self.duration - self.now)


class UserThrottle(SharedCacheThrottle):
    scope = "user"

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None  # the views that serve anonymous requests (the schema) are not limited here
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class FailedAuthenticationThrottle(SharedCacheThrottle):
    scope = "anon"

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": address_bucket(client_ip(request))}

    def allows(self, request: Request, view: "APIView") -> bool:
        """True while the client's address is under its limit. Counts nothing.

        Raises access.client_ip.MalformedForwardedFor."""
        try:
            return not self._load(request, view) or len(self.history) < self.num_requests
        except CACHE_ERRORS as exc:
            _cache_unavailable(self.scope, exc)
            return True

    def count_failure(self, request: Request, view: "APIView") -> None:
        """Count one request that failed authentication against its address."""
        try:
            # Read again: other workers may have counted since the check.
            if self._load(request, view):
                self.throttle_success()  # DRF's name for "add this request to the history"
        except CACHE_ERRORS as exc:
            _cache_unavailable(self.scope, exc)

    def _load(self, request: Request, view: "APIView") -> bool:
        """The address's history within the window, as DRF's allow_request reads it; False when
        nothing is counted (no rate)."""
        if self.rate is None:
            return False
        self.key = self.get_cache_key(request, view)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return True


def address_bucket(address: str | None) -> str:
    """What the per-address limit counts: the address, or an IPv6 address's /64."""
    if address is None:
        return "unknown"  # no peer address (a Unix socket with no trusted proxy): one bucket
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
    return address


def _cache_unavailable(scope: str, exc: Exception) -> None:
    log.warning("api_throttle_cache_unavailable", scope=scope, error=f"{type(exc).__name__}: {exc}")
