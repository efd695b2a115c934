"""The AVENIR lock audit (seed 003): every inconsistency between the ledger, the wallet
locks and the vesting lots. One selector behind the admin page and `audit_avenir_locks`.

Set-based: ONE SQL statement. A hash full join of the lots with the ACTIVE locks on the
direct link (operation_id == source_operation_id) is computed once and feeds every kind
of finding; each kind returns its exact count and at most `max_items` rows (window
functions). The cost is one scan of each table, whatever the number of findings.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from ledger.currencies import check_currency, format_amount
from ledger.db import fetch_rows, read_only_transaction
from ledger.models import LockReason, LockReferenceType, LockStatus
from vaults.models import AVENIR_CODE, LotStatus
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

_LOTS = "vault_vesting_lots"
_LOCKS = "wallet_locks"
_RELEASED = LotStatus.RELEASED.value
_VESTED = LotStatus.VESTED.value
_ACTIVE = LockStatus.ACTIVE.value
_REASON = LockReason.VAULT_AVENIR_VESTING.value


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
_NULLS = "NULL::numeric, NULL::numeric, NULL::numeric, NULL::bigint[], NULL::uuid"


def _audit_sql(currency: str | None) -> tuple[str, list]:
    lot_where, lot_params = ("AND lot.currency = %s", [currency]) if currency else ("", [])
    lock_where, lock_params = ("AND l.currency = %s", [currency]) if currency else ("", [])
    acc_where, acc_params = ("AND a.currency = %s", [currency]) if currency else ("", [])
    sql = f"""
WITH links AS MATERIALIZED (
    -- Every AVENIR lot with its ACTIVE lock through the direct link, and every ACTIVE lock without a lot.
    SELECT lot.id AS lot_id, lot.vault_id, lot.currency AS lot_currency, lot.user_id AS lot_user,
           lot.amount AS lot_amount, lot.amount - lot.released_amount AS remaining, lot.deposit_day,
           lot.status AS lot_status, lot.source_operation_id,
           l.id AS lock_id, l.currency AS lock_currency, l.user_id AS lock_user, l.amount AS lock_amount,
           l.reason, l.operation_id AS lock_operation_id
      FROM (SELECT * FROM {_LOTS} lot WHERE lot.vault_code = '{AVENIR_CODE}' {lot_where}) lot
      FULL JOIN (SELECT * FROM {_LOCKS} l WHERE l.status = '{_ACTIVE}' {lock_where}) l
        ON l.operation_id = lot.source_operation_id
),
unlinked AS MATERIALIZED (
    -- Unreleased lots with no ACTIVE lock through the direct link.
    SELECT lot_id, vault_id, lot_currency, lot_user, lot_amount, remaining, deposit_day, source_operation_id
      FROM links WHERE lot_id IS NOT NULL AND lot_status <> '{_RELEASED}' AND lock_id IS NULL
),
pairs AS MATERIALIZED (
    -- The (lot, lock) pairs the release's fallback accepts (lock_matching.fallback_candidates).
    -- LATERAL: an index probe per unlinked lot, never a scan of every ACTIVE lock.
    SELECT u.lot_id, u.lot_currency, u.lot_user, u.lot_amount, c.id AS lock_id, c.created_at,
           COUNT(*) OVER (PARTITION BY c.id) AS lots_for_lock
      FROM unlinked u CROSS JOIN LATERAL (
        SELECT l.id, l.created_at FROM {_LOCKS} l
         WHERE l.user_id = u.lot_user AND l.currency = u.lot_currency AND l.reason = '{_REASON}'
           AND l.reference_type = '{LockReferenceType.VAULT.value}' AND l.reference_id = u.vault_id
           AND l.status = '{_ACTIVE}' AND l.amount BETWEEN u.lot_amount - %s AND u.lot_amount + %s
           AND l.created_at >= (u.deposit_day::timestamp AT TIME ZONE 'UTC')
           AND l.created_at < ((u.deposit_day + 1)::timestamp AT TIME ZONE 'UTC')
           -- A lock still linked to another unreleased lot is never taken.
           AND (l.operation_id IS NULL OR NOT EXISTS (
                SELECT 1 FROM {_LOTS} p WHERE p.source_operation_id = l.operation_id AND p.status = '{_VESTED}'))
      ) c
),
findings AS (
    SELECT '{RELEASED_LOT_ACTIVE_LOCK}' AS kind, lot_id AS sort_key, lot_currency AS currency, lot_user AS user_id,
           lot_id, lock_id, lock_amount AS amount, NULL::numeric AS locked, NULL::numeric AS locks,
           NULL::numeric AS lots, NULL::bigint[] AS candidates, NULL::uuid AS operation_id
      FROM links WHERE lot_status = '{_RELEASED}' AND lock_id IS NOT NULL
       -- A split remainder that an unreleased lot's fallback takes is that lot's lock, not stale.
       AND lock_id NOT IN (SELECT p.lock_id FROM pairs p)
    UNION ALL
    -- The direct lock is RELEASED; or there is no lock at all, not even by the fallback.
    SELECT CASE WHEN closed.id IS NULL THEN '{UNRELEASED_LOT_LOCK_MISSING}' ELSE '{UNRELEASED_LOT_LOCK_RELEASED}' END,
           u.lot_id, u.lot_currency, u.lot_user, u.lot_id, closed.id, u.remaining, {_NULLS}
      FROM unlinked u LEFT JOIN LATERAL (
        SELECT l.id FROM {_LOCKS} l WHERE l.operation_id = u.source_operation_id ORDER BY l.id DESC LIMIT 1
      ) closed ON TRUE
     WHERE closed.id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM pairs p WHERE p.lot_id = u.lot_id)
    UNION ALL
    -- ACTIVE AVENIR locks that no lot has, neither by the direct link nor by the fallback.
    SELECT '{ORPHAN_ACTIVE_LOCK}', lock_id, lock_currency, lock_user, NULL, lock_id, lock_amount,
           NULL::numeric, NULL::numeric, NULL::numeric, NULL::bigint[], lock_operation_id
      FROM links k WHERE k.lot_id IS NULL AND k.reason = '{_REASON}'
       AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.lock_id = k.lock_id)
    UNION ALL
    -- Invariant 3 per (user, currency): WALLET_LOCKED balance == ACTIVE locks == unreleased lots.
    SELECT '{LOCKED_BALANCE_MISMATCH}', user_id, currency, user_id, NULL, NULL, NULL,
           SUM(locked), SUM(locks), SUM(lots), NULL::bigint[], NULL::uuid
      FROM (
        SELECT a.owner_id AS user_id, a.currency, a.balance AS locked, 0 AS locks, 0 AS lots
          FROM ledger_accounts a WHERE a.kind = 'WALLET_LOCKED' {acc_where}
        -- Pre-aggregated per branch: hash aggregates instead of sorting every row.
        UNION ALL SELECT lock_user, lock_currency, 0, SUM(lock_amount), 0 FROM links
         WHERE lock_id IS NOT NULL GROUP BY lock_user, lock_currency
        UNION ALL SELECT lot_user, lot_currency, 0, 0, SUM(remaining) FROM links
         WHERE lot_id IS NOT NULL AND lot_status <> '{_RELEASED}' GROUP BY lot_user, lot_currency
      ) b GROUP BY user_id, currency HAVING SUM(locked) <> SUM(locks) OR SUM(locked) <> SUM(lots)
    UNION ALL
    -- Lots only the fallback links: one candidate, or ambiguous (several, or a lock several lots compete for).
    SELECT CASE WHEN COUNT(*) > 1 OR MAX(lots_for_lock) > 1 THEN '{AMBIGUOUS_FALLBACK_LINK}'
                ELSE '{FALLBACK_ONLY_LINK}' END,
           lot_id, lot_currency, lot_user, lot_id, (ARRAY_AGG(lock_id ORDER BY created_at, lock_id))[1], lot_amount,
           NULL::numeric, NULL::numeric, NULL::numeric, ARRAY_AGG(lock_id ORDER BY created_at, lock_id), NULL::uuid
      FROM pairs GROUP BY lot_id, lot_currency, lot_user, lot_amount
)"""
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
