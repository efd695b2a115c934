"""Which releases a reversal looks at: the scope, resolved before anything is written, and
the key ranges of release operations it hands to its writers."""

import threading
from dataclasses import dataclass, field

from vaults.exceptions import InvalidRelease
from vaults.models import LotStatus, ReleaseRun, ReversalScope, RunStatus, Vault, VestingLot
from vaults.services.release.results import RefusedLot
from vaults.services.reversal.context import ReversalContext, Scope
from vaults.services.reversal.statements import FIRST_ID, LAST_ID, base_params, next_boundary_sql

MAX_SELECTED_LOTS = 100_000


def run_scope(*, vault: Vault, run_id: int) -> Scope:
    """The release operations a run wrote: its trace id, within its business day."""
    run = ReleaseRun.objects.filter(pk=run_id).first()
    if run is None:
        raise InvalidRelease(f"no release run {run_id}")
    if run.vault_id != vault.pk:
        raise InvalidRelease(f"run {run_id} released {run.currency}, not {vault.currency}")
    if run.status == RunStatus.RUNNING:
        raise InvalidRelease(f"run {run_id} is still RUNNING: let it finish (or take it over) before reversing it")
    return Scope(kind=ReversalScope.RUN, release_run=run)


def lots_scope(*, vault: Vault, lot_ids) -> tuple[Scope, tuple[RefusedLot, ...]]:
    """The current release of each selected lot. Lots that do not exist in this vault, or
    are not released, are refused by name; nothing else is touched."""
    wanted = sorted(set(lot_ids))
    if not wanted or len(wanted) > MAX_SELECTED_LOTS:
        raise InvalidRelease(f"select between 1 and {MAX_SELECTED_LOTS} lots")
    lots = dict(VestingLot.objects.filter(pk__in=wanted, vault=vault).values_list("pk", "status"))
    releases = dict(
        VestingLot.objects.filter(pk__in=wanted, vault=vault, status=LotStatus.RELEASED).values_list(
            "pk", "last_release_operation_id"
        )
    )
    refused = tuple(
        RefusedLot(lot_id=lot_id, reason="NOT_FOUND" if lot_id not in lots else "NOT_RELEASED")
        for lot_id in wanted
        if lot_id not in releases
    )
    release_ids = tuple(sorted(str(op) for op in releases.values()))
    return Scope(kind=ReversalScope.LOTS, lot_ids=tuple(wanted), release_ids=release_ids), refused


@dataclass(frozen=True)
class KeyRange:
    """Release operations with after < id <= upto."""

    after: str
    upto: str

    def params(self) -> dict:
        return {"after_id": self.after, "upto_id": self.upto}


@dataclass
class ReleaseRangeDispatcher:
    """Hands out consecutive ranges of about chunk_size release operations of the scope,
    in id order, one walk shared by every writer of the run."""

    ctx: ReversalContext
    _after: str = FIRST_ID
    _done: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_range(self, cursor) -> KeyRange | None:
        with self._lock:
            if self._done:
                return None
            cursor.execute(
                next_boundary_sql(self.ctx),
                {**base_params(self.ctx), "after_id": self._after, "offset": self.ctx.chunk_size - 1},
            )
            row = cursor.fetchone()
            if row is None:  # fewer than chunk_size left: the last range is open-ended
                self._done = True
                return KeyRange(after=self._after, upto=LAST_ID)
            key_range = KeyRange(after=self._after, upto=str(row[0]))
            self._after = key_range.upto
            return key_range
