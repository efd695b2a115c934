"""The fixed inputs of one reversal run, shared read-only by its chunks and writers."""

from dataclasses import dataclass
from datetime import date

from vaults.models import ReleaseRun, ReversalScope, Vault


@dataclass(frozen=True)
class Scope:
    """Exactly one of: the release operations of a run, of a business day, or the current
    releases of selected lots (resolved to their operation ids)."""

    kind: str  # ReversalScope
    release_run: ReleaseRun | None = None
    as_of: date | None = None
    lot_ids: tuple[int, ...] | None = None
    release_ids: tuple[str, ...] | None = None  # LOTS: the lots' current release operations

    def describe(self) -> str:
        if self.kind == ReversalScope.RUN:
            return f"run {self.release_run.pk} ({self.release_run.trace_id})"
        if self.kind == ReversalScope.DAY:
            return f"every release of as_of {self.as_of}"
        return f"{len(self.lot_ids or ())} selected lot(s)"

    def to_json(self) -> dict:
        if self.kind == ReversalScope.RUN:
            return {"run_id": self.release_run.pk, "run_trace_id": self.release_run.trace_id}
        if self.kind == ReversalScope.DAY:
            return {"as_of": self.as_of.isoformat()}
        return {"lot_ids": list(self.lot_ids or ())}


@dataclass(frozen=True)
class ReversalContext:
    vault: Vault
    scope: Scope
    today: date
    trace_id: str
    reason: str
    actor: str
    release_day: date | None
    vesting_days: int | None
    dry_run: bool
    chunk_size: int
    workers: int
    run_id: int | None = None
