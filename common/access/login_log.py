"""One JSON log line per failed admin login, per lockout, and per login refused during one: the
username typed and the client's address, never the password (Django and axes hand the
credentials over with it masked; these lines do not log credentials at all).

django-axes' own lines mask the username and address, so its logger is kept to errors
(settings LOGGING) and these lines say it instead.
"""

import structlog
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

log = structlog.get_logger(__name__)

# What a line keeps of a typed username: enough to recognise it, never a flood.
USERNAME_LOG_LENGTH = 150


@receiver(user_login_failed)
def log_failed_login(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    if request is None or getattr(request, "axes_failures_since_start", None) is None:
        return  # not counted by axes: refused during a lockout (logged below) or not a web login
    log.warning(
        "admin_login_failed",
        username=_username(credentials.get("username")),
        ip_address=request.axes_ip_address,
        path=request.path,
        failures=request.axes_failures_since_start,
    )


@receiver(user_locked_out)
def log_lockout(sender, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs) -> None:
    # Axes counts a failure before it signals the lockout it starts; a refused login is not counted.
    failures = getattr(request, "axes_failures_since_start", None)
    log.warning(
        "admin_login_locked_out" if failures is not None else "admin_login_refused_locked_out",
        username=_username(username),
        ip_address=ip_address,
        path=request.path,
        failures=failures,
    )


def _username(value: object) -> str:
    return str(value or "")[:USERNAME_LOG_LENGTH]
