"""The fixed inputs of one run, shared read-only by its chunks and writers."""

from dataclasses import dataclass
from datetime import date

from vaults.models import Vault


@dataclass(frozen=True)
class RunContext:
    vault: Vault
    as_of: date
    trace_id: str
    dry_run: bool
    lot_ids: tuple[int, ...] | None
    chunk_size: int
    workers: int
    run_id: int | None = None
