"""The AVENIR lock audit: every inconsistency between the ledger, the wallet
locks and the vesting lots. One selector behind the admin page and `audit_avenir_locks`.

Set-based: ONE SQL statement (sql/lock_audit.sql). A hash full join of the lots with the ACTIVE locks on the
direct link (operation_id == source_operation_id) is computed once and feeds every kind
of finding; each kind returns its exact count and at most `max_items` rows (window
functions). The cost is one scan of each table, whatever the number of findings.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.db import connection
from django.utils import timezone

from common.db import fetch_rows, read_only_transaction
from ledger.currencies import check_currency, format_amount
from ledger.models import LockReason, LockReferenceType, LockStatus, WalletLock
from vaults.models import AVENIR_CODE, LotStatus, VestingLot
from vaults.services.lock_matching import FALLBACK_AMOUNT_TOLERANCE

# Kinds of findings, in the order the page and the command show them.
RELEASED_LOT_ACTIVE_LOCK = "RELEASED_LOT_ACTIVE_LOCK"
UNRELEASED_LOT_LOCK_MISSING = "UNRELEASED_LOT_LOCK_MISSING"
UNRELEASED_LOT_LOCK_RELEASED = "UNRELEASED_LOT_LOCK_RELEASED"
ORPHAN_ACTIVE_LOCK = "ORPHAN_ACTIVE_LOCK"
LOCKED_BALANCE_MISMATCH = "LOCKED_BALANCE_MISMATCH"
FALLBACK_ONLY_LINK = "FALLBACK_ONLY_LINK"
AMBIGUOUS_FALLBACK_LINK = "AMBIGUOUS_FALLBACK_LINK"

KINDS: dict[str, str] = {
    RELEASED_LOT_ACTIVE_LOCK: "Released lot whose wallet lock is still ACTIVE",
    UNRELEASED_LOT_LOCK_MISSING: "Unreleased lot with no wallet lock",
    UNRELEASED_LOT_LOCK_RELEASED: "Unreleased lot whose wallet lock is already RELEASED",
    ORPHAN_ACTIVE_LOCK: "ACTIVE AVENIR lock with no lot",
    LOCKED_BALANCE_MISMATCH: "WALLET_LOCKED balance differs from ACTIVE locks or unreleased lots",
    FALLBACK_ONLY_LINK: "Lot linked to a lock only by the fallback match",
    AMBIGUOUS_FALLBACK_LINK: "Lot whose fallback match is ambiguous",
}
# The one finding with a safe repair (close the lock): vaults.services.repair.
REPAIRABLE_KINDS = frozenset({RELEASED_LOT_ACTIVE_LOCK})

DEFAULT_MAX_ITEMS = 200

_SQL = Path(__file__).with_name("sql")


@dataclass(frozen=True)
class Finding:
    kind: str
    currency: str
    user_id: int | None
    lot_id: int | None = None
    lock_id: int | None = None
    amount: Decimal | None = None
    # Fallback findings: the ACTIVE locks the fallback accepts, oldest (the one it would take) first.
    candidate_lock_ids: tuple[int, ...] = ()
    # Balance findings: the three amounts that should be equal.
    locked_balance: Decimal | None = None
    active_locks: Decimal | None = None
    unreleased_lots: Decimal | None = None
    detail: str = ""

    def to_json(self) -> dict:
        doc: dict = {"kind": self.kind, "currency": self.currency, "user_id": self.user_id}
        for name in ("lot_id", "lock_id"):
            if getattr(self, name) is not None:
                doc[name] = getattr(self, name)
        for name in ("amount", "locked_balance", "active_locks", "unreleased_lots"):
            value = getattr(self, name)
            if value is not None:
                doc[name] = format_amount(value, self.currency)
        if self.candidate_lock_ids:
            doc["candidate_lock_ids"] = list(self.candidate_lock_ids)
        doc["detail"] = self.detail
        return doc


@dataclass(frozen=True)
class FindingGroup:
    kind: str
    title: str
    count: int  # exact, even when `findings` is truncated
    findings: tuple[Finding, ...]
    repairable: bool

    @property
    def truncated(self) -> bool:
        return self.count > len(self.findings)


@dataclass(frozen=True)
class AuditReport:
    currency: str | None
    generated_at: datetime
    groups: tuple[FindingGroup, ...] = field(default_factory=tuple)

    @property
    def total(self) -> int:
        return sum(group.count for group in self.groups)

    @property
    def consistent(self) -> bool:
        return self.total == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.consistent else 1

    def group(self, kind: str) -> FindingGroup:
        return next(group for group in self.groups if group.kind == kind)

    def to_json(self) -> dict:
        return {
            "audit": "avenir_locks",
            "currency": self.currency,
            "generated_at": self.generated_at.isoformat(),
            "consistent": self.consistent,
            "total_findings": self.total,
            "counts": {group.kind: group.count for group in self.groups},
            "findings": {
                group.kind: [finding.to_json() for finding in group.findings] for group in self.groups if group.count
            },
            "truncated": {group.kind: group.truncated for group in self.groups if group.truncated},
            "exit_code": self.exit_code,
        }


def audit_avenir_locks(*, currency: str | None = None, max_items: int = DEFAULT_MAX_ITEMS) -> AuditReport:
    """Every inconsistency of the AVENIR locks, optionally for one currency.

    Raises UnknownCurrency for a currency the ledger does not know.
    """
    if currency is not None:
        check_currency(currency)
    found: dict[str, tuple[int, list[Finding]]] = {kind: (0, []) for kind in KINDS}
    sql, params = _audit_sql(currency)
    # A consistent snapshot (READ ONLY, REPEATABLE READ when outermost) and no JIT: compiling
    # this query costs PostgreSQL more than running it.
    with read_only_transaction():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        rows = fetch_rows(f"{sql} {_CAPPED}", [*params, max_items])
    for row in rows:
        finding, total = _finding(*row)
        found[finding.kind] = (total, [*found[finding.kind][1], finding])
    groups = tuple(
        FindingGroup(
            kind=kind,
            title=title,
            count=found[kind][0],
            findings=tuple(found[kind][1]),
            repairable=kind in REPAIRABLE_KINDS,
        )
        for kind, title in KINDS.items()
    )
    return AuditReport(currency=currency, generated_at=timezone.now(), groups=groups)


# Exact count per kind, at most max_items rows per kind.
_CAPPED = (
    "SELECT kind, currency, user_id, lot_id, lock_id, amount, locked, locks, lots, candidates, operation_id, total "
    "FROM (SELECT f.*, COUNT(*) OVER (PARTITION BY f.kind) AS total, "
    "ROW_NUMBER() OVER (PARTITION BY f.kind ORDER BY f.sort_key) AS rn FROM findings f) t "
    "WHERE t.rn <= %s ORDER BY t.kind, t.rn"
)

# Every finding has the same columns:
# kind, sort_key, currency, user_id, lot_id, lock_id, amount, locked, locks, lots, candidates, operation_id
_SQL_CONSTANTS = {
    "_LOTS": "vault_vesting_lots",
    "_LOCKS": "wallet_locks",
    "_RELEASED": LotStatus.RELEASED.value,
    "_VESTED": LotStatus.VESTED.value,
    "_ACTIVE": LockStatus.ACTIVE.value,
    "_REASON": LockReason.VAULT_AVENIR_VESTING.value,
    "_NULLS": "NULL::numeric, NULL::numeric, NULL::numeric, NULL::bigint[], NULL::uuid",
    "AVENIR_CODE": AVENIR_CODE,
    "VAULT_REFERENCE": LockReferenceType.VAULT.value,
    **{kind: kind for kind in KINDS},
}


@cache
def _audit_template() -> str:
    return (_SQL / "lock_audit.sql").read_text()


def _audit_sql(currency: str | None) -> tuple[str, list]:
    lot_where, lot_params = ("AND lot.currency = %s", [currency]) if currency else ("", [])
    lock_where, lock_params = ("AND l.currency = %s", [currency]) if currency else ("", [])
    acc_where, acc_params = ("AND a.currency = %s", [currency]) if currency else ("", [])
    sql = _audit_template().format(**_SQL_CONSTANTS, lot_where=lot_where, lock_where=lock_where, acc_where=acc_where)
    tolerance = [FALLBACK_AMOUNT_TOLERANCE, FALLBACK_AMOUNT_TOLERANCE]
    return sql, [*lot_params, *lock_params, *tolerance, *acc_params]


def _finding(kind, cur, user_id, lot_id, lock_id, amount, locked, locks, lots, candidates, operation_id, total):
    """(Finding, exact count of its kind) from one row of the audit query."""
    money = (lambda value: f"{format_amount(value, cur)} {cur}") if cur else str
    if kind == RELEASED_LOT_ACTIVE_LOCK:
        detail = f"lot {lot_id} is RELEASED but lock {lock_id} still holds {money(amount)}"
    elif kind == UNRELEASED_LOT_LOCK_MISSING:
        detail = f"lot {lot_id} ({money(amount)} unreleased) has no wallet lock, not even by the fallback"
    elif kind == UNRELEASED_LOT_LOCK_RELEASED:
        detail = f"lot {lot_id} is not released but its lock {lock_id} is already RELEASED"
    elif kind == ORPHAN_ACTIVE_LOCK:
        link = f"operation {operation_id}" if operation_id else "no operation"
        detail = f"lock {lock_id} ({money(amount)}, {link}) is ACTIVE but no lot has it"
    elif kind == LOCKED_BALANCE_MISMATCH:
        locked, locks, lots = Decimal(locked), Decimal(locks), Decimal(lots)
        detail = (
            f"user {user_id} {cur}: WALLET_LOCKED {format_amount(locked, cur)}, "
            f"ACTIVE locks {format_amount(locks, cur)}, unreleased lots {format_amount(lots, cur)}"
        )
    elif kind == AMBIGUOUS_FALLBACK_LINK:
        detail = f"lot {lot_id}: fallback candidates {list(candidates)} (several, or shared); oldest is {lock_id}"
    else:
        detail = f"lot {lot_id} has no direct lock; the fallback would close lock {lock_id}"
    finding = Finding(
        kind=kind,
        currency=cur,
        user_id=user_id,
        lot_id=lot_id,
        lock_id=lock_id,
        amount=amount,
        candidate_lock_ids=tuple(candidates or ()),
        locked_balance=locked,
        active_locks=locks,
        unreleased_lots=lots,
        detail=detail,
    )
    return finding, total


@dataclass(frozen=True)
class RepairPreview:
    """A lock an operator asked to close, with the lot it belongs to (None: no lot has it)."""

    lock: WalletLock
    lot: VestingLot | None


def repair_preview(*, lock_ids: list[int]) -> list[RepairPreview]:
    """What the repair confirmation page shows; the repair service re-checks each lock."""
    locks = list(WalletLock.objects.filter(pk__in=lock_ids).select_related("user").order_by("pk"))
    lots = {
        lot.source_operation_id: lot
        for lot in VestingLot.objects.filter(source_operation_id__in=[lock.operation_id for lock in locks])
    }
    return [RepairPreview(lock=lock, lot=lots.get(lock.operation_id)) for lock in locks]
