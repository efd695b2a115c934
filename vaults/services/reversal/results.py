"""What a reversal run reports: the frozen summary and its JSON (the release's shape)."""

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal

from ledger.currencies import format_amount
from vaults.services.release.results import LotError, RefusedLot
from vaults.services.reversal.context import Scope

JOB = "avenir_vesting_reversal"


@dataclass(frozen=True)
class ReversedLot:
    """A lot a dry run would put back: its release, the amount, its new release day."""

    lot_id: int
    release_id: str
    amount: Decimal
    release_day: date


@dataclass(frozen=True)
class ReversalSummary:
    trace_id: str
    currency: str
    scope: Scope
    dry_run: bool
    reason: str
    release_day: date | None
    vesting_days: int | None
    found: int  # release operations in the scope
    reversed_count: int
    reversed_amount: Decimal
    skipped_count: int  # already reversed
    errors_count: int
    errors: tuple[LotError, ...]
    refused: tuple[RefusedLot, ...] = ()
    run_id: int | None = None
    planned: tuple[ReversedLot, ...] = ()  # dry runs only

    @property
    def exit_code(self) -> int:
        return 1 if self.errors_count else 0

    def to_json(self) -> dict:
        return {
            "job": JOB,
            "trace_id": self.trace_id,
            "currency": self.currency,
            "scope": {"kind": self.scope.kind, **self.scope.to_json()},
            "dry_run": self.dry_run,
            "reason": self.reason,
            "release_day": self.release_day.isoformat() if self.release_day else None,
            "vesting_days": self.vesting_days,
            "summary": {
                "found": self.found,
                "reversed_count": self.reversed_count,
                "reversed_amount": format_amount(self.reversed_amount, self.currency),
                "skipped_count": self.skipped_count,
                "errors_count": self.errors_count,
                "errors": [asdict(error) for error in self.errors],
                "refused_count": len(self.refused),
                "refused": [asdict(refused) for refused in self.refused],
                "trace_id": self.trace_id,
            },
            "exit_code": self.exit_code,
        }
