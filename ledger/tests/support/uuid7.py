"""Reading UUIDv7 values (RFC 9562) back: their layout and the time they carry.

Times are in ticks of 1/4096 ms, the precision PostgreSQL 18 gives them (48 bits of Unix
milliseconds, then the millisecond's fraction in the 12 bits of rand_a): integers, so
comparisons with the server's clock are exact."""

import uuid
from datetime import UTC, datetime, timedelta

TICKS_PER_MS = 4096
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def assert_uuid7_layout(value: uuid.UUID) -> None:
    assert value.version == 7, value
    assert value.variant == uuid.RFC_4122, value  # the variant bits are 10


def uuid7_ticks(value: uuid.UUID) -> int:
    """The Unix time an id carries: its milliseconds and rand_a's fraction."""
    return ((value.int >> 80) * TICKS_PER_MS) + ((value.int >> 64) & 0xFFF)


def microseconds_to_ticks(unix_us: int) -> int:
    """A clock reading in Unix microseconds as the id made at that instant carries it."""
    return unix_us * TICKS_PER_MS // 1000


def unix_microseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)
