"""What a release run reports: the frozen summary and its runbook JSON, and the
counters a run adds chunk results into."""

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal

from ledger.currencies import format_amount

JOB = "avenir_vesting_release"
MAX_ERRORS_LISTED = 1000  # errors_count stays exact; the list is capped to keep memory flat
MAX_PLANNED_LISTED = 1000  # lots a dry run lists with the lock each would close


@dataclass(frozen=True)
class LotError:
    lot_id: int
    code: str
    message: str


@dataclass(frozen=True)
class RefusedLot:
    lot_id: int
    reason: str  # NOT_MATURED or NOT_FOUND


@dataclass(frozen=True)
class PlannedLot:
    """A lot a dry run would release, and the wallet lock that release would close."""

    lot_id: int
    lock_id: int | None  # None: no lock found; the lot is released anyway (the ledger prevails)
    via: str  # "direct", "fallback" or "missing"


@dataclass(frozen=True)
class ReleaseSummary:
    trace_id: str
    as_of: date
    currency: str
    dry_run: bool
    matured_found: int
    executed_count: int
    executed_amount: Decimal
    skipped_count: int
    errors_count: int
    errors: tuple[LotError, ...]
    locks_closed_count: int
    locks_missing_count: int
    locks_matched_by_fallback: int
    locks_split_count: int
    refused: tuple[RefusedLot, ...] = ()
    run_id: int | None = None
    # Another real run for the same (as_of, currency) was in progress: nothing was done.
    already_running: bool = False
    # Dry runs only, not in the runbook JSON: the first MAX_PLANNED_LISTED lots it would release.
    planned: tuple[PlannedLot, ...] = ()

    @property
    def exit_code(self) -> int:
        return 1 if self.errors_count else 0

    def to_runbook_json(self) -> dict:
        """The runbook's JSON document: amounts are strings with the currency's minor units."""
        return {
            "job": JOB,
            "trace_id": self.trace_id,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "dry_run": self.dry_run,
            "already_running": self.already_running,
            "summary": {
                "matured_found": self.matured_found,
                "executed_count": self.executed_count,
                "executed_amount": format_amount(self.executed_amount, self.currency),
                "skipped_count": self.skipped_count,
                "errors_count": self.errors_count,
                "errors": [asdict(error) for error in self.errors],
                "locks_closed_count": self.locks_closed_count,
                "locks_missing_count": self.locks_missing_count,
                "locks_matched_by_fallback": self.locks_matched_by_fallback,
                "locks_split_count": self.locks_split_count,
                "refused_count": len(self.refused),
                "refused": [asdict(refused) for refused in self.refused],
                "trace_id": self.trace_id,
                "as_of_date": self.as_of.isoformat(),
            },
            "exit_code": self.exit_code,
        }


@dataclass
class Tally:
    """Counters of a chunk or of a whole run (internal; callers get a ReleaseSummary)."""

    executed_count: int = 0
    executed_amount: Decimal = Decimal(0)
    errors_count: int = 0
    errors: list[LotError] = field(default_factory=list)
    locks_closed_count: int = 0
    locks_missing_count: int = 0
    locks_matched_by_fallback: int = 0
    locks_split_count: int = 0
    skipped_count: int = 0  # a reversal's lots whose release was already reversed
    # Lots that failed in this run: not claimed again. The insufficient ones also keep
    # counting against their owner's balance (see planning.sql).
    failed_lot_ids: set[int] = field(default_factory=set)
    insufficient_lot_ids: set[int] = field(default_factory=set)
    planned: list[PlannedLot] = field(default_factory=list)

    def add_error(self, error: LotError, *, counted: bool = False) -> None:
        """`counted`: errors_count already includes it (it came in a chunk's count)."""
        if not counted:
            self.errors_count += 1
        self.failed_lot_ids.add(error.lot_id)
        if error.code.startswith("INSUFFICIENT_"):  # the locked (release) or available (reversal) balance
            self.insufficient_lot_ids.add(error.lot_id)
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(error)

    def merge(self, other: "Tally") -> None:
        for name in (
            "executed_count",
            "executed_amount",
            "errors_count",
            "locks_closed_count",
            "locks_missing_count",
            "locks_matched_by_fallback",
            "locks_split_count",
            "skipped_count",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed_lot_ids |= other.failed_lot_ids
        self.insufficient_lot_ids |= other.insufficient_lot_ids
        self.errors.extend(other.errors[: max(0, MAX_ERRORS_LISTED - len(self.errors))])
