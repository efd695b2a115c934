"""The plain-SQL reference release (reference_chunk.sql) on `connections` psycopg
connections, with the same key-range walk as the engine. Used by the benchmark only."""

import secrets
import threading
from datetime import date
from pathlib import Path

import psycopg

CLAIM_SQL = Path(__file__).with_name("reference_claim.sql").read_text()
CHUNK_SQL = Path(__file__).with_name("reference_chunk.sql").read_text()
BOUNDARY_SQL = """
SELECT release_day, id FROM vault_vesting_lots
 WHERE vault_id = %(vault_id)s AND currency = %(currency)s AND status = 'VESTED' AND release_day <= %(as_of)s
   AND (release_day, id) > (%(after_day)s::date, %(after_id)s::bigint)
 ORDER BY release_day, id OFFSET %(offset)s LIMIT 1
"""


def release(dsn: str, *, vault_id, currency: str, as_of: date, chunk_size: int, connections: int) -> int:
    """Release every matured lot; returns how many."""
    base = {"vault_id": vault_id, "currency": currency, "as_of": as_of, "trace_id": f"reference-{secrets.token_hex(4)}"}
    walk = {"after": (date(1, 1, 1), 0), "done": False}
    lock = threading.Lock()
    released = [0] * connections
    errors: list[BaseException] = []

    def next_range(conn: psycopg.Connection):
        with lock:
            if walk["done"]:
                return None
            after = walk["after"]
            row = conn.execute(
                BOUNDARY_SQL, {**base, "after_day": after[0], "after_id": after[1], "offset": chunk_size - 1}
            ).fetchone()
            if row is None:
                walk["done"] = True
                return after, (as_of, 2**63 - 1)
            walk["after"] = (row[0], row[1])
            return after, walk["after"]

    def writer(i: int) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                while True:
                    with conn.transaction():
                        key_range = next_range(conn)
                        if key_range is None:
                            return
                        (after_day, after_id), (upto_day, upto_id) = key_range
                        params = {**base, "after_day": after_day, "after_id": after_id}
                        params |= {"upto_day": upto_day, "upto_id": upto_id}
                        params["claimed_lot_ids"] = conn.execute(CLAIM_SQL, params).fetchone()[0]
                        released[i] += conn.execute(CHUNK_SQL, params).fetchone()[0]
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
