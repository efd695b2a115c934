"""Which lots a run looks at: the counts it reports before writing, and the key
ranges it hands to its writers."""

import threading
from dataclasses import dataclass, field
from datetime import date

from django.db.models import F, Q, Sum

from vaults.models import LotStatus, ReleaseRun, VestingLot
from vaults.selectors import pending_lots
from vaults.services.release.context import RunContext
from vaults.services.release.results import RefusedLot
from vaults.services.release.statements import MAX_LOT_ID, base_params, next_boundary_sql

FIRST_KEY = (date(1, 1, 1), 0)


@dataclass(frozen=True)
class Selection:
    matured_found: int
    skipped_count: int
    refused: tuple[RefusedLot, ...]


def count_selection(ctx: RunContext) -> Selection:
    """matured_found, skipped_count and, for an explicit selection, the refused lots."""
    matured_found = pending_lots(vault=ctx.vault, as_of=ctx.as_of, lot_ids=ctx.lot_ids).count()
    same_vault = VestingLot.objects.filter(vault=ctx.vault, currency=ctx.vault.currency)
    # The runbook skips a lot if status == RELEASED or released_amount >= amount.
    done_lots = same_vault.filter(Q(status=LotStatus.RELEASED) | Q(released_amount__gte=F("amount")))
    if ctx.lot_ids is None:
        # Replaying a day: the lots that earlier runs of the same as_of released are
        # skipped. Their run rows count them exactly (even a crashed run's), and there
        # are only a few rows per day, so this does not grow with the history.
        earlier = ReleaseRun.objects.filter(vault=ctx.vault, currency=ctx.vault.currency, as_of=ctx.as_of)
        if ctx.run_id is not None:
            earlier = earlier.exclude(pk=ctx.run_id)
        skipped = earlier.aggregate(total=Sum("executed_count"))["total"] or 0
        # Plus matured lots still VESTED with nothing left to release (the runbook skips them).
        skipped += done_lots.filter(status=LotStatus.VESTED, release_day__lte=ctx.as_of).count()
        return Selection(matured_found, skipped, ())
    found = dict(same_vault.filter(pk__in=ctx.lot_ids).values_list("pk", "release_day"))
    released = set(done_lots.filter(pk__in=ctx.lot_ids).values_list("pk", flat=True))
    refused = []
    for lot_id in ctx.lot_ids:
        if lot_id not in found:
            refused.append(RefusedLot(lot_id=lot_id, reason="NOT_FOUND"))
        elif found[lot_id] > ctx.as_of and lot_id not in released:
            refused.append(RefusedLot(lot_id=lot_id, reason="NOT_MATURED"))
    return Selection(matured_found, len(released), tuple(refused))


@dataclass(frozen=True)
class KeyRange:
    """Lots with after < (release_day, id) <= upto."""

    after: tuple[date, int]
    upto: tuple[date, int]

    def params(self) -> dict:
        return {
            "after_day": self.after[0],
            "after_id": self.after[1],
            "upto_day": self.upto[0],
            "upto_id": self.upto[1],
        }


@dataclass
class RangeDispatcher:
    """Hands out consecutive key ranges of about chunk_size pending lots, one walk in
    (release_day, id) order shared by every writer of the run. Two writers never get
    the same range; another run's writers are kept apart by the row locks."""

    ctx: RunContext
    exclude_lot_ids: frozenset[int] = frozenset()
    _after: tuple[date, int] = FIRST_KEY
    _done: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_range(self, cursor) -> KeyRange | None:
        """The next range, read on the caller's connection; None when the walk is over."""
        with self._lock:  # held for one index range scan only
            if self._done:
                return None
            cursor.execute(
                next_boundary_sql(self.ctx),
                {
                    **base_params(self.ctx),
                    "after_day": self._after[0],
                    "after_id": self._after[1],
                    "exclude_lot_ids": sorted(self.exclude_lot_ids),
                    "offset": self.ctx.chunk_size - 1,
                },
            )
            row = cursor.fetchone()
            if row is None:  # fewer than chunk_size left: the last range is open-ended
                self._done = True
                return KeyRange(after=self._after, upto=(self.ctx.as_of, MAX_LOT_ID))
            key_range = KeyRange(after=self._after, upto=(row[0], row[1]))
            self._after = key_range.upto
            return key_range
