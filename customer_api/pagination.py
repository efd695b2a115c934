"""Opaque pagination cursors: base64url of the last item's (created_at, id).

The cursor only says where to resume; it grants nothing. The user filter is applied
on every request whatever the cursor holds, so a forged cursor still reads only the
caller's own operations.
"""

import base64
import binascii
import json
from datetime import UTC, datetime
from uuid import UUID

from customer_api.selectors import HistoryCursor

MAX_CURSOR_LENGTH = 200  # a real cursor is ~90 characters; refuse to decode anything huge


class InvalidCursor(ValueError):
    pass


def encode_cursor(cursor: HistoryCursor) -> str:
    payload = json.dumps([cursor.created_at.astimezone(UTC).isoformat(), str(cursor.id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> HistoryCursor:
    if not value or len(value) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("malformed cursor")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        created_at_text, id_text = json.loads(raw.decode("utf-8"))
        created_at = datetime.fromisoformat(created_at_text)
        operation_id = UUID(id_text)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, AttributeError):
        raise InvalidCursor("malformed cursor") from None
    if created_at.tzinfo is None:
        raise InvalidCursor("malformed cursor")
    try:
        created_at = created_at.astimezone(UTC)
    except OverflowError:
        raise InvalidCursor("malformed cursor") from None
    return HistoryCursor(created_at=created_at, id=operation_id)
