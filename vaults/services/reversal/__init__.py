"""Undoing mistaken releases: a compensating reversal per release, per lot, run or day.

The same shape as the release (vaults/services/release/): chunks of set-based SQL, claimed
with SKIP LOCKED, a run row with a lease and exact counts, per-lot refusals, and the same run
machinery (chunks.py, execution.py, the lease keeper, reconnecting after a lost connection).

Modules: entry (inputs, dry or real run), selection (the scope, key ranges), statements and
sql/ (the SQL), engine (one chunk, the dry run), runs (the run rows), results (summary, JSON).
"""

from vaults.keys import reversal_idempotency_key
from vaults.services.reversal.entry import new_reversal_trace_id, reverse_releases
from vaults.services.reversal.results import JOB, ReversalSummary, ReversedLot

__all__ = [
    "JOB",
    "ReversalSummary",
    "ReversedLot",
    "new_reversal_trace_id",
    "reversal_idempotency_key",
    "reverse_releases",
]
