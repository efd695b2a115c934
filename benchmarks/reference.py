"""The plain-SQL reference release (reference_claim.sql, reference_chunk.sql) on
`connections` psycopg connections, walking the same key ranges as the engine (its
RangeDispatcher). Used by the benchmark only."""

import secrets
import threading
from pathlib import Path

import psycopg

from vaults.services.release.context import RunContext
from vaults.services.release.selection import RangeDispatcher

CLAIM_SQL = Path(__file__).with_name("reference_claim.sql").read_text()
CHUNK_SQL = Path(__file__).with_name("reference_chunk.sql").read_text()


def release(dsn: str, ctx: RunContext, *, connections: int) -> int:
    """Release every lot of ctx's vault matured on ctx.as_of; returns how many."""
    base = {
        "vault_id": ctx.vault.pk,
        "currency": ctx.vault.currency,
        "as_of": ctx.as_of,
        "trace_id": f"reference-{secrets.token_hex(4)}",
    }
    dispatcher = RangeDispatcher(ctx)
    released = [0] * connections
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                while True:
                    with conn.transaction(), conn.cursor() as cursor:
                        key_range = dispatcher.next_range(cursor)
                        if key_range is None:
                            return
                        params = {**base, **key_range.params()}
                        params["claimed_lot_ids"] = cursor.execute(CLAIM_SQL, params).fetchone()[0]
                        released[i] += cursor.execute(CHUNK_SQL, params).fetchone()[0]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(released)
