"""GET /metrics: the release job's metrics in Prometheus' text format, for a bearer token.

- METRICS_BEARER_TOKEN unset: the endpoint is off and answers 404, like any unknown path.
- No token, or a wrong one: 401 with a JSON body and `WWW-Authenticate: Bearer`; nothing
  is read from the database. Tokens are compared in constant time (their SHA-256 digests,
  so not even the length leaks).
- The database unreachable: 503 JSON, logged; Prometheus records the failed scrape (`up`).
Errors are `{"error": <code>, "detail": <message>}`, like the customer API's.
"""

import hashlib
import hmac

import structlog
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from prometheus_client.exposition import choose_encoder

from vaults.monitoring.collector import REGISTRY

log = structlog.get_logger("vaults.metrics")


def _error(status: int, code: str, detail: str) -> JsonResponse:
    response = JsonResponse({"error": code, "detail": detail}, status=status)
    add_never_cache_headers(response)
    return response


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _authorized(request: HttpRequest, expected: str) -> bool:
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    # Always compare, also for a missing header: the answer takes the same time either way.
    matches = hmac.compare_digest(_digest(supplied.strip()), _digest(expected))
    return scheme.lower() == "bearer" and matches


@csrf_exempt  # read only, token-authenticated: a refused method gets JSON, not the CSRF page
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_BEARER_TOKEN
    if not token:
        return _error(404, "not_found", "Not found.")
    if not _authorized(request, token):
        response = _error(401, "not_authenticated", "A valid bearer token is required.")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method not in ("GET", "HEAD"):
        response = _error(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
        response["Allow"] = "GET, HEAD"
        return response
    # The format Prometheus asks for (OpenMetrics, else the text format), as prometheus-client's own server does.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    try:
        body = encode(REGISTRY)
    except DatabaseError:
        log.exception("metrics scrape failed: the database did not answer")
        return _error(503, "database_unavailable", "The metrics could not be read from the database.")
    response = HttpResponse(body, content_type=content_type)
    add_never_cache_headers(response)
    return response
