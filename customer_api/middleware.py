"""Response rules for everything under /api/ that the API views cannot enforce themselves.

- Errors are JSON, `{"error": <code>, "detail": <message>}` like the views' own: Django
  answers an unknown path, or a method its non-DRF views refuse, with an HTML page, and
  those never reach DRF's exception handler.
- Responses of the customer API (/api/v1/) are never stored by a browser or a proxy:
  they hold one customer's money movements.
"""

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.cache import add_never_cache_headers

API_PREFIX = "/api/"
PRIVATE_API_PREFIX = "/api/v1/"

# The codes DRF uses for the same statuses, so clients see one vocabulary.
_CODES = {
    HTTPStatus.NOT_FOUND: "not_found",
    HTTPStatus.METHOD_NOT_ALLOWED: "method_not_allowed",
    HTTPStatus.INTERNAL_SERVER_ERROR: "server_error",
}


class ApiResponseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path_info.startswith(API_PREFIX):
            return response
        if response.status_code >= 400 and not _is_json(response):
            response = _json_error(request, response)
        if request.path_info.startswith(PRIVATE_API_PREFIX):
            add_never_cache_headers(response)  # Cache-Control: no-store (and no-cache, private, max-age=0)
        return response


def _is_json(response: HttpResponse) -> bool:
    return "json" in response.get("Content-Type", "")


def _json_error(request: HttpRequest, original: HttpResponse) -> JsonResponse:
    try:
        status = HTTPStatus(original.status_code)
    except ValueError:  # a non-standard code: keep it, with a generic body
        code, detail = "error", "Error."
    else:
        code = _CODES.get(status, status.phrase.lower().replace(" ", "_").replace("-", "_"))
        detail = f"{status.phrase}."
        if status == HTTPStatus.NOT_FOUND:
            detail = _not_found_detail(request.path_info)
        elif status == HTTPStatus.METHOD_NOT_ALLOWED:
            detail = f'Method "{request.method}" not allowed.'
    response = JsonResponse({"error": code, "detail": detail}, status=original.status_code)
    if original.has_header("Allow"):
        response["Allow"] = original["Allow"]
    return response


def _not_found_detail(path: str) -> str:
    """Name the right path when only a trailing slash is wrong (the /api/v1/ paths have none)."""
    if path.endswith("/") and path != API_PREFIX:
        try:
            resolve(path.rstrip("/"))
        except Resolver404:
            pass
        else:
            return f"Not found. This path takes no trailing slash: use {path.rstrip('/')}."
    return "Not found."
