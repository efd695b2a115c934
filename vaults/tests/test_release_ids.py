"""The release's operation ids (uuidv7() in chunk.sql: PostgreSQL 18's built-in, or the
function of ledger migration 0007 below 18; scripts/test.sh runs this module on both):
version 7 ids that sort by creation time, chunk after chunk and run after run."""

import itertools
import uuid
from datetime import timedelta

import pytest
from django.db import connection

from ledger.models import Operation, OperationType
from ledger.tests.support.uuid7 import assert_uuid7_layout, microseconds_to_ticks, unix_microseconds, uuid7_ticks
from vaults.services.release import release_matured_lots
from vaults.tests.factories import DepositFactory

pytestmark = pytest.mark.django_db(transaction=True)

LOTS_PER_DAY = 6
CHUNK_SIZE = 2
# PostgreSQL 18 keeps a session's ids strictly increasing by moving each one up to ~1 µs
# ahead of its clock when they come faster than its clock's step: allowed, 1 ms.
LEAD_TICKS = 4096


def clock_now_microseconds() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
        return cursor.fetchone()[0]


def chunks_of(trace_id: str) -> list[list[tuple[uuid.UUID, int]]]:
    """The run's operations as (id, created_at in Unix µs), one list per chunk: a chunk is one
    transaction, and created_at is its now()."""
    rows = Operation.objects.filter(
        type=OperationType.VAULT_VESTING_RELEASE, operation_metadata__trace_id=trace_id
    ).values_list("id", "created_at")
    chunks: dict[int, list[tuple[uuid.UUID, int]]] = {}
    for value, created_at in rows:
        started = unix_microseconds(created_at)
        chunks.setdefault(started, []).append((value, started))
    return [chunks[started] for started in sorted(chunks)]


def test_release_ids_carry_their_chunks_time_and_sort_across_chunks_and_runs(avenir, today):
    yesterday = today - timedelta(days=1)
    for day in (yesterday, today):
        for _ in range(LOTS_PER_DAY):
            DepositFactory(release_day=day)

    first = release_matured_lots(currency="AED", as_of=yesterday, chunk_size=CHUNK_SIZE, workers=1)
    second = release_matured_lots(currency="AED", as_of=today, chunk_size=CHUNK_SIZE, workers=1)
    after_both = clock_now_microseconds()

    chunks = chunks_of(first.trace_id) + chunks_of(second.trace_id)
    assert [len(chunk) for chunk in chunks] == [CHUNK_SIZE] * (2 * LOTS_PER_DAY // CHUNK_SIZE)
    # Each chunk's ids were made after its transaction began (created_at) and before the next
    # chunk's began (or the clock read after both runs): the ids carry that time...
    ends = [chunk[0][1] for chunk in chunks[1:]] + [after_both]
    for chunk, end in zip(chunks, ends, strict=True):
        for value, started in chunk:
            assert_uuid7_layout(value)
            assert microseconds_to_ticks(started) <= uuid7_ticks(value) <= microseconds_to_ticks(end) + LEAD_TICKS
    # ...and sort in that order: every id of a chunk after every id of the chunks before it,
    # so every id of the second run after every id of the first.
    for earlier, later in itertools.pairwise(chunks):
        assert max(value for value, _ in earlier) < min(value for value, _ in later)
    first_ids = {value for chunk in chunks_of(first.trace_id) for value, _ in chunk}
    second_ids = {value for chunk in chunks_of(second.trace_id) for value, _ in chunk}
    assert len(first_ids) == len(second_ids) == LOTS_PER_DAY
    assert max(first_ids) < min(second_ids)
