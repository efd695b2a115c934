"""Views of the customer API: parse the query, call the selector, format the page."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from customer_api import schema  # noqa: F401 - registers the Bearer security scheme
from customer_api.pagination import encode_cursor
from customer_api.selectors import transaction_history
from customer_api.serializers import (
    ErrorSerializer,
    InvalidParameterErrorSerializer,
    TransactionPageSerializer,
    TransactionQuerySerializer,
)
from customer_api.throttled_view import ThrottledAPIView

_QUERY_PARAMETERS = ("limit", "operation_type", "created_from", "created_to", "cursor")


class TransactionListView(ThrottledAPIView):
    """The authenticated user's operations, newest first, with cursor pagination."""

    @extend_schema(
        operation_id="listTransactions",
        summary="List the user's transactions",
        description=(
            "The caller's own operations (fundings, AVENIR vault deposits and vesting releases), newest first. "
            "Pagination is a stable cursor on (created_at, id): pass `next` back as `cursor` with the same "
            "filters; operations posted in between never shift the following pages."
        ),
        parameters=[
            TransactionQuerySerializer,
            OpenApiParameter(
                "Retry-After",
                OpenApiTypes.INT,
                OpenApiParameter.HEADER,
                response=[429],
                description="Seconds until the request would be accepted again.",
            ),
        ],
        responses={
            200: TransactionPageSerializer,
            400: OpenApiResponse(InvalidParameterErrorSerializer, description="A query parameter is invalid."),
            401: OpenApiResponse(ErrorSerializer, description="Missing, invalid, expired or revoked token."),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many requests for this user, or too many without a valid token from this address "
                '(`"error": "throttled"`). Retry after `Retry-After` seconds.',
            ),
        },
        examples=[
            OpenApiExample(
                "A vesting release",
                response_only=True,
                status_codes=["200"],
                value={
                    "items": [
                        {
                            "id": "0b7c2a9e-3f1d-4c55-9a43-7f0e2d1b6c88",
                            "operation_type": "VAULT_VESTING_RELEASE",
                            "product_label": "COFFRE AVENIR",
                            "direction": "IN",
                            "amount_display": "10000.00",
                            "currency": "AED",
                            "created_at": "2025-01-27T00:05:00Z",
                            "lot_id": 42,
                        }
                    ],
                    "next": None,
                },
            )
        ],
        tags=["transactions"],
    )
    def get(self, request: Request) -> Response:
        # A plain dict, not the QueryDict: DRF would turn "limit=" into the default instead of a 400.
        query = TransactionQuerySerializer(
            data={name: request.query_params[name] for name in _QUERY_PARAMETERS if name in request.query_params}
        )
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = transaction_history(
            user_id=request.user.pk,
            limit=params["limit"],
            operation_type=params.get("operation_type"),
            created_from=params.get("created_from"),
            created_to=params.get("created_to"),
            after=params.get("cursor"),
        )
        next_cursor = encode_cursor(page.next_cursor) if page.next_cursor is not None else None
        return Response(TransactionPageSerializer({"items": page.items, "next": next_cursor}).data)
