"""Query-parameter parsing and response formatting of the transactions endpoint.

Every query value is validated strictly: a bad value is a 400 naming the parameter,
never a silent default or clamp.
"""

import re
from datetime import UTC, date, datetime, time

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customer_api.pagination import InvalidCursor, decode_cursor
from customer_api.selectors import HistoryItem
from ledger.currencies import format_amount
from ledger.models import OperationType

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only: int() would also take " 5", "5_0" or non-ASCII digits
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Extended ISO 8601 only ("2025-01-27T00:05..."): the compact forms fromisoformat also takes are refused,
# and so is anything after it but ASCII digits and ":.+-Z": parse_datetime would take other scripts'
# digits, a trailing newline or space, and fromisoformat a trailing NUL.
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}[0-9:.+\-Z]*")


class StrictIntegerField(serializers.IntegerField):
    """An integer written as plain ASCII digits: "50" yes; "50.0", "5e1", " 50", "" no."""

    def to_internal_value(self, data):
        text = str(data)
        if isinstance(data, bool) or not _INTEGER.fullmatch(text):
            self.fail("invalid")
        if len(text.lstrip("-")) > 18:  # a valid integer, but far out of range: report the range
            self.fail("min_value" if text.startswith("-") else "max_value", **self._bounds())
        return int(text)

    def _bounds(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value}


_DATE_OR_DATETIME_SCHEMA = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
}


@extend_schema_field(_DATE_OR_DATETIME_SCHEMA)
class DayOrDateTimeField(serializers.Field):
    """YYYY-MM-DD (a whole UTC day) or an ISO 8601 datetime (naive means UTC).

    `end_of_day` picks which end of a bare date the bound is: its first microsecond
    for `created_from`, its last for `created_to`; both bounds are inclusive.
    """

    default_error_messages = {
        "invalid": "Expected a date YYYY-MM-DD or an ISO 8601 datetime, e.g. 2025-01-27 or 2025-01-27T00:05:00Z.",
    }

    def __init__(self, *, end_of_day: bool, **kwargs) -> None:
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            if _DATE.fullmatch(data):
                day = date.fromisoformat(data)
                return datetime.combine(day, time.max if self.end_of_day else time.min, tzinfo=UTC)
            moment = parse_datetime(data) if _DATETIME.fullmatch(data) else None
            if moment is None:
                self.fail("invalid")
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
        except (ValueError, OverflowError):
            self.fail("invalid")

    def to_representation(self, value):
        return value.isoformat()


@extend_schema_field(OpenApiTypes.STR)
class CursorField(serializers.Field):
    default_error_messages = {"invalid": "Malformed cursor: pass the `next` value of the previous page unchanged."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return decode_cursor(data)
        except InvalidCursor:
            self.fail("invalid")

    def to_representation(self, value):
        return value


class TransactionQuerySerializer(serializers.Serializer):
    limit = StrictIntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"Items per page, 1..{MAX_LIMIT} (default {DEFAULT_LIMIT}). Out of range is an error, not clamped.",
    )
    operation_type = serializers.ChoiceField(
        choices=OperationType.choices,
        required=False,
        help_text="Only operations of this type.",
    )
    created_from = DayOrDateTimeField(
        end_of_day=False,
        required=False,
        help_text="Only operations created at or after this UTC date (YYYY-MM-DD, from 00:00:00) "
        "or ISO 8601 datetime (without an offset: UTC).",
    )
    created_to = DayOrDateTimeField(
        end_of_day=True,
        required=False,
        help_text="Only operations created at or before this UTC date (YYYY-MM-DD, the whole day included) "
        "or ISO 8601 datetime (without an offset: UTC).",
    )
    cursor = CursorField(
        required=False,
        help_text="The `next` value of the previous page, to get the following one. Use the same filters.",
    )

    def validate(self, attrs: dict) -> dict:
        start, end = attrs.get("created_from"), attrs.get("created_to")
        if start is not None and end is not None and start > end:
            raise serializers.ValidationError({"created_from": ["created_from must not be after created_to."]})
        return attrs


class DirectionField(serializers.ChoiceField):
    def __init__(self, **kwargs) -> None:
        super().__init__(choices=[("IN", "IN"), ("OUT", "OUT")], **kwargs)


class TransactionItemSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The operation id.")
    operation_type = serializers.ChoiceField(choices=OperationType.choices)
    product_label = serializers.CharField(help_text='"COFFRE AVENIR" for AVENIR vault operations.')
    direction = DirectionField(help_text="Seen from the user's available wallet: IN credits it, OUT debits it.")
    amount_display = serializers.SerializerMethodField(
        help_text='The amount as a decimal string with the currency\'s minor units, e.g. "10000.00".'
    )
    currency = serializers.CharField()
    created_at = serializers.DateTimeField(help_text="ISO 8601, UTC, with a Z suffix.")
    lot_id = serializers.IntegerField(
        allow_null=True,
        help_text="The AVENIR vesting lot of a vault deposit or release; null for other operations.",
    )

    @extend_schema_field(OpenApiTypes.STR)
    def get_amount_display(self, item: HistoryItem) -> str:
        return format_amount(item.amount, item.currency)


class TransactionPageSerializer(serializers.Serializer):
    items = TransactionItemSerializer(many=True)
    next = serializers.CharField(
        allow_null=True,
        help_text="Cursor of the next page (pass it as `cursor`), or null on the last page.",
    )


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text='A stable code, e.g. "not_authenticated", "authentication_failed".')
    detail = serializers.CharField(help_text="A human-readable message.")


class InvalidParameterErrorSerializer(ErrorSerializer):
    parameters = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="The invalid query parameters, each with its messages.",
    )
