"""Validation of the monitoring settings, used by settings.py.

Each failure is an ImproperlyConfigured with a one-line message (manage.py: exit 2), so a
typo is found at deploy time, not on the night the release needed watching.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

MIN_METRICS_TOKEN_LENGTH = 32
MAX_CHECKIN_TIMEOUT_SECONDS = 30.0
TOKEN_HINT = "generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105 - a hint


def check_metrics_token(token: str) -> str:
    """Empty: /metrics is off (404). Otherwise a bearer token long enough not to be guessed,
    with no whitespace (Prometheus reads it from a file and sends it as is)."""
    if not token:
        return ""
    if any(character.isspace() for character in token):
        raise ImproperlyConfigured("METRICS_BEARER_TOKEN must not contain whitespace")
    if len(token) < MIN_METRICS_TOKEN_LENGTH:
        raise ImproperlyConfigured(
            f"METRICS_BEARER_TOKEN is too short ({len(token)} characters, at least {MIN_METRICS_TOKEN_LENGTH}); "
            f"{TOKEN_HINT}"
        )
    return token


def check_checkin(url: str, timeout: float) -> str:
    """Empty: no check-in. Otherwise an http(s) URL with a host, and a short timeout: a ping
    must never hold the release up for long."""
    if not 0 < timeout <= MAX_CHECKIN_TIMEOUT_SECONDS:
        raise ImproperlyConfigured(
            f"AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS must be in (0, {MAX_CHECKIN_TIMEOUT_SECONDS:g}], got {timeout:g}"
        )
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            "AVENIR_RELEASE_CHECKIN_URL must be an http(s) URL such as https://hc-ping.com/<uuid> "
            f"(got a {parts.scheme or 'scheme-less'} URL)"
        )
    return url
