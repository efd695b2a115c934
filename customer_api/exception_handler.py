"""One JSON error shape for the whole API: {"error": <code>, "detail": <message>[, "parameters": {...}]}."""

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler (status, WWW-Authenticate header), then our body shape.

    Unexpected exceptions return None, so Django answers 500 and logs them as usual.
    """
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        parameters = _as_parameters(exc.detail)
        response.data = {
            "error": "invalid_parameter",
            "detail": f"Invalid query parameter(s): {', '.join(sorted(parameters))}.",
            "parameters": parameters,
        }
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        response.data = {
            "error": code if isinstance(code, str) else exc.default_code,
            "detail": str(exc.detail),
        }
    return response


def _as_parameters(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(name): [str(message) for message in (messages if isinstance(messages, list) else [messages])]
            for name, messages in detail.items()
        }
    messages = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [str(message) for message in messages]}
