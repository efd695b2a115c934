"""Helpers for the admin and audit tests: staff users with given permissions, and a
database seeded with every kind of lock inconsistency the audit must find."""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone

from ledger.models import LockReason, LockReferenceType, LockStatus, Operation, WalletLock
from ledger.tests.factories import UserFactory
from vaults.models import ReleaseTrigger, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory

MONEY_TABLES = (
    "operations",
    "ledger_entries",
    "ledger_accounts",
    "wallet_locks",
    "vault_vesting_lots",
    "vault_release_runs",
    "vault_lock_repairs",
)


def staff_user(username: str, *perms: str, password: str = "pw-for-tests-only"):
    """An active staff user (not superuser) with exactly these "app_label.codename" permissions."""
    user = UserFactory(username=username, is_staff=True)
    user.set_password(password)
    user.save()
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def money_fingerprint() -> dict[str, str]:
    """{table: md5 of its rows} for the tables where money, locks, lots and runs live."""
    result = {}
    with connection.cursor() as cursor:
        for table in MONEY_TABLES:
            cursor.execute(f'SELECT t::text FROM "{table}" t ORDER BY 1')
            rows = "\n".join(row[0] for row in cursor.fetchall())
            result[table] = hashlib.md5(rows.encode()).hexdigest()
    return result


@dataclass(frozen=True)
class Seeded:
    """The ids behind each seeded inconsistency."""

    released_lot: int  # RELEASED lot whose lock was re-activated
    released_lot_lock: int
    missing_lock_lot: int  # unreleased lot whose lock was deleted
    released_lock_lot: int  # unreleased lot whose lock is already RELEASED
    released_lock: int
    orphan_lock: int  # ACTIVE AVENIR lock that no lot has
    balance_user: int  # user whose lock amount no longer matches the ledger
    fallback_lot: int  # lot whose only link is the fallback
    fallback_lock: int
    ambiguous_lots: tuple[int, int]  # two lots competing for two legacy locks
    ambiguous_locks: tuple[int, int]


def seed_every_inconsistency() -> Seeded:
    """Real deposits and a real release, then direct ORM edits of wallet_locks (operations
    and entries are immutable) to create one case of each finding."""
    today = utc_today()
    now = timezone.now()

    # A RELEASED lot whose lock is still ACTIVE (the release "forgot" to close it).
    released = DepositFactory(release_day=today)
    release_matured_lots(currency="AED", lot_ids=[released.lot_id], trigger=ReleaseTrigger.CLI, actor="seed")
    WalletLock.objects.filter(pk=released.lock_id).update(
        status=LockStatus.ACTIVE, released_at=None, release_operation=None
    )

    # An unreleased lot whose lock is missing.
    missing = DepositFactory(release_day=today + timedelta(days=30))
    WalletLock.objects.filter(pk=missing.lock_id).delete()

    # An unreleased lot whose lock is already RELEASED.
    closed = DepositFactory(release_day=today + timedelta(days=31))
    WalletLock.objects.filter(pk=closed.lock_id).update(status=LockStatus.RELEASED, released_at=now)

    # An ACTIVE AVENIR lock that no lot has (linked to a FUNDING operation, another amount).
    orphan_user = UserFactory()
    funding = DepositFactory(user=orphan_user, release_day=today + timedelta(days=32))
    funding_op = Operation.objects.filter(user=orphan_user, type="FUNDING").first()
    orphan = WalletLock.objects.create(
        user=orphan_user,
        currency="AED",
        amount=Decimal("123.45"),
        reason=LockReason.VAULT_AVENIR_VESTING,
        reference_type=LockReferenceType.VAULT,
        reference_id=WalletLock.objects.get(pk=funding.lock_id).reference_id,
        operation=funding_op,
        created_at=now,
    )

    # A user whose ACTIVE lock no longer equals the ledger (nor the lot).
    drift = DepositFactory(release_day=today + timedelta(days=33))
    WalletLock.objects.filter(pk=drift.lock_id).update(amount=Decimal("10000.50"))

    # A legacy lock (no operation_id): only the fallback links it to its lot.
    legacy = DepositFactory(release_day=today + timedelta(days=34))
    WalletLock.objects.filter(pk=legacy.lock_id).update(operation=None)

    # Two same-day, same-amount deposits of one user with legacy locks: an ambiguous fallback.
    twin_user = UserFactory()
    twins = [DepositFactory(user=twin_user, release_day=today + timedelta(days=35), seconds=s) for s in (0, 60)]
    WalletLock.objects.filter(pk__in=[d.lock_id for d in twins]).update(operation=None)

    return Seeded(
        released_lot=released.lot_id,
        released_lot_lock=released.lock_id,
        missing_lock_lot=missing.lot_id,
        released_lock_lot=closed.lot_id,
        released_lock=closed.lock_id,
        orphan_lock=orphan.pk,
        balance_user=VestingLot.objects.get(pk=drift.lot_id).user_id,
        fallback_lot=legacy.lot_id,
        fallback_lock=legacy.lock_id,
        ambiguous_lots=(twins[0].lot_id, twins[1].lot_id),
        ambiguous_locks=(twins[0].lock_id, twins[1].lock_id),
    )
