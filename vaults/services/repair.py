"""The lock audit's one safe repair: close the ACTIVE wallet lock of a RELEASED lot.

Safe because the release already moved the money out of WALLET_LOCKED (the ledger
prevails, as the lock-link audit says): closing the lock only brings wallet_locks back in line with the
ledger. No money moves, no operation is written. Every other finding is reported only.
Each closed lock is recorded in LockRepair (who, when, which lock, the trace id).
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from django.db import transaction
from django.utils import timezone

from common.db import update_rows
from ledger.models import LockReason, LockStatus, WalletLock
from vaults.models import LockRepair, LotStatus, VestingLot

log = structlog.get_logger("vaults.repair")


def new_repair_trace_id(at: datetime) -> str:
    return f"repair-avenir-locks-{at.astimezone(UTC):%Y%m%d}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class RepairedLock:
    lock_id: int
    lot_id: int
    amount: Decimal


@dataclass(frozen=True)
class RefusedRepair:
    lock_id: int
    reason: str  # NOT_FOUND, NOT_ACTIVE, NOT_AVENIR, NO_RELEASED_LOT, SPLIT_REMAINDER


@dataclass(frozen=True)
class RepairResult:
    trace_id: str
    repaired: tuple[RepairedLock, ...]
    refused: tuple[RefusedRepair, ...]


@transaction.atomic
def close_locks_of_released_lots(*, lock_ids: Sequence[int], actor: str) -> RepairResult:
    """Close each given lock if, checked again under a row lock, it is ACTIVE and belongs to a
    RELEASED lot; refuse it otherwise. The lock's release operation is the lot's."""
    now = timezone.now()
    trace_id = new_repair_trace_id(now)
    wanted = sorted(set(lock_ids))
    locks = {lock.pk: lock for lock in WalletLock.objects.select_for_update().filter(pk__in=wanted).order_by("pk")}
    lots = {
        lot.source_operation_id: lot
        for lot in VestingLot.objects.filter(
            source_operation_id__in=[lock.operation_id for lock in locks.values() if lock.operation_id],
            status=LotStatus.RELEASED,
        )
    }
    repaired: list[RepairedLock] = []
    refused: list[RefusedRepair] = []
    rows = []
    records = []
    for lock_id in wanted:
        lock = locks.get(lock_id)
        lot = lots.get(lock.operation_id) if lock is not None else None
        if lock is None:
            refused.append(RefusedRepair(lock_id, "NOT_FOUND"))
        elif lock.status != LockStatus.ACTIVE:
            refused.append(RefusedRepair(lock_id, "NOT_ACTIVE"))
        elif lock.reason != LockReason.VAULT_AVENIR_VESTING:
            refused.append(RefusedRepair(lock_id, "NOT_AVENIR"))
        elif lot is None:
            refused.append(RefusedRepair(lock_id, "NO_RELEASED_LOT"))
        elif lock.split_from_id is not None:
            # The remainder of a partial release still covers other money: investigate, never auto-close.
            refused.append(RefusedRepair(lock_id, "SPLIT_REMAINDER"))
        else:
            rows.append((lock.pk, LockStatus.RELEASED, now, lot.last_release_operation_id))
            records.append(
                LockRepair(lock=lock, lot=lot, amount=lock.amount, actor=actor[:150], trace_id=trace_id, created_at=now)
            )
            repaired.append(RepairedLock(lock_id=lock.pk, lot_id=lot.pk, amount=lock.amount))
    update_rows(WalletLock, key="id", fields=["status", "released_at", "release_operation"], rows=rows)
    LockRepair.objects.bulk_create(records)
    for item in repaired:
        log.warning(
            "audit repair: closed the ACTIVE lock of a released lot",
            trace_id=trace_id,
            actor=actor,
            lock_id=item.lock_id,
            lot_id=item.lot_id,
            amount=str(item.amount),
        )
    for item in refused:
        log.info("audit repair refused", trace_id=trace_id, actor=actor, lock_id=item.lock_id, reason=item.reason)
    return RepairResult(trace_id=trace_id, repaired=tuple(repaired), refused=tuple(refused))
