"""The AVENIR vesting release: one engine behind every caller.

A real run walks the matured, unreleased lots in (release_day, id) order, a key range
per transaction. Each range is claimed by sql/claim.sql (lots FOR UPDATE SKIP LOCKED,
so two runs never share a lot; then accounts in id order; then locks), then planned
and written by one set-based statement, sql/chunk.sql: one INSERT for the operations,
one for the entries, one UPDATE each for balances, lots and locks. A unique
idempotency key per lot makes a second release impossible in the database. A dry
run plans the whole selection with the same SQL inside a READ ONLY transaction.

Modules: entry (inputs, dry or real run), selection (counts, key ranges), statements
and sql/ (the SQL), writing (one chunk, the rare slow paths), execution (one or
several connections), runs (run records and their lease), transactions (timeouts,
interruption), clock (the database's date), results (summary, JSON).
"""

from vaults.keys import release_idempotency_key
from vaults.services.release.clock import utc_today
from vaults.services.release.entry import new_trace_id, release_matured_lots, take_over_run
from vaults.services.release.results import JOB, LotError, PlannedLot, RefusedLot, ReleaseSummary

__all__ = [
    "JOB",
    "LotError",
    "PlannedLot",
    "RefusedLot",
    "ReleaseSummary",
    "new_trace_id",
    "release_idempotency_key",
    "release_matured_lots",
    "take_over_run",
    "utc_today",
]
