"""The admin login lockout (django-axes): the page a refused login gets (its log lines are in
access/login_log.py).

Axes counts failed logins in the database (its AccessAttempt rows), per username and per client
address, so the counts hold across gunicorn workers and pods. A login refused during a lockout
is not counted (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is off), so the lockout ends at a
fixed time, which the page states.
"""

import math
from datetime import datetime, timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

LOCKOUT_STATUS = 429


def lockout_ends_at(request: HttpRequest, credentials: dict | None) -> datetime:
    """When axes lets this client and username try again.

    For each lockout parameter (username, IP address), axes adds up the failures of the rows
    whose last failure is within the cool-off: walking them newest first, the row where the sum
    reaches the limit is the one whose expiry ends the lockout.
    """
    limit = get_failure_limit(request, credentials)
    cool_off = get_cool_off(request)
    ends = []
    for attempts in AxesDatabaseHandler().get_user_attempts(request, credentials):
        failures = 0
        for attempt_time, count in attempts.order_by("-attempt_time").values_list(
            "attempt_time", "failures_since_start"
        ):
            failures += count
            if failures >= limit:
                ends.append(attempt_time + cool_off)
                break
    # No row over the limit: the lock was lifted meanwhile (axes_reset); one cool-off is the most.
    return max(ends, default=request.axes_attempt_time + cool_off)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After and a page that says when to try again.

    It never says why (username or address), how many attempts were made, or whether the
    password was right."""
    now = request.axes_attempt_time
    ends = _next_whole_second(lockout_ends_at(request, credentials))  # never shown earlier than it is
    seconds = max(1, math.ceil((ends - now).total_seconds()))
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in temporarily blocked",
        "retry_at": ends,
        "retry_at_display": ends.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "retry_in": _duration(seconds),
    }
    response = render(request, "access/lockout.html", context, status=LOCKOUT_STATUS)
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response


def _next_whole_second(moment: datetime) -> datetime:
    if not moment.microsecond:
        return moment
    return moment.replace(microsecond=0) + timedelta(seconds=1)


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"in {seconds} seconds"
    return f"in about {round(seconds / 60)} minutes"
