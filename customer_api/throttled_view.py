"""The base of the customer API's views: the per-address limit on failed authentication runs
around DRF's authentication (see customer_api/throttling.py), the per-user limit after it."""

from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access.client_ip import MalformedForwardedFor
from customer_api.throttling import FailedAuthenticationThrottle


class MalformedForwardedForHeader(exceptions.APIException):
    """Behind trusted proxies, X-Forwarded-For does not hold what they write (a misconfigured chain)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_header"
    default_detail = "Malformed X-Forwarded-For header."


class ThrottledAPIView(APIView):
    def perform_authentication(self, request: Request) -> None:
        guard = FailedAuthenticationThrottle()
        try:
            allowed = guard.allows(request, self)
        except MalformedForwardedFor as exc:
            raise MalformedForwardedForHeader() from exc
        if not allowed:
            # Refused whatever the token: an address over the limit learns nothing from its guesses.
            self.throttled(request, guard.wait())
        super().perform_authentication(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            FailedAuthenticationThrottle().count_failure(self.request, self)
        return super().handle_exception(exc)
