"""Double-entry ledger: accounts, operations, entries, and wallet locks.

Invariants live in the database (see the migrations): balanced operations
(a trigger checks every INSERT of entries), non-negative user wallets (CHECK), unique
idempotency keys, immutable operations and entries, one ACTIVE lock per
deposit operation.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from common.ids import uuid7
from ledger.currencies import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS


def amount_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs)


class AccountKind(models.TextChoices):
    WALLET_AVAILABLE = "WALLET_AVAILABLE", "Wallet (available)"
    WALLET_LOCKED = "WALLET_LOCKED", "Wallet (locked)"
    SYSTEM_FUNDING = "SYSTEM_FUNDING", "System: external funding"


USER_WALLET_KINDS = (AccountKind.WALLET_AVAILABLE, AccountKind.WALLET_LOCKED)


class Account(models.Model):
    """One per (owner, currency, kind); owner is a user, or the system (owner NULL)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    balance = amount_field(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_accounts"
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "currency", "kind"],
                condition=Q(owner__isnull=False),
                name="account_unique_user_kind",
            ),
            models.UniqueConstraint(
                fields=["currency", "kind"],
                condition=Q(owner__isnull=True),
                name="account_unique_system_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in USER_WALLET_KINDS], owner__isnull=False)
                | Q(kind=AccountKind.SYSTEM_FUNDING, owner__isnull=True),
                name="account_kind_matches_owner",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[k.value for k in USER_WALLET_KINDS]) | Q(balance__gte=0),
                name="account_user_wallet_balance_non_negative",
            ),
        ]

    def __str__(self) -> str:
        owner = self.owner_id if self.owner_id else "system"
        return f"{self.kind} {self.currency} ({owner})"


class OperationType(models.TextChoices):
    FUNDING = "FUNDING", "Funding"
    VAULT_DEPOSIT = "VAULT_DEPOSIT", "Vault deposit"
    VAULT_VESTING_RELEASE = "VAULT_VESTING_RELEASE", "Vault vesting release"
    # Takes back one mistaken release: the money goes back from available to locked.
    VAULT_VESTING_RELEASE_REVERSAL = "VAULT_VESTING_RELEASE_REVERSAL", "Vault vesting release reversal"
    ADJUSTMENT = "ADJUSTMENT", "Adjustment"


class Operation(models.Model):
    """A posted money movement. Immutable: a trigger rejects UPDATE and DELETE."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    type = models.CharField(max_length=32, choices=OperationType.choices)
    # Indexed by operations_user_created_id, whose first column is the user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="operations",
        db_index=False,
    )
    currency = models.CharField(max_length=3)
    amount = amount_field()
    operation_metadata = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "operations"
        indexes = [
            models.Index(fields=["type", "created_at"], name="operations_type_created"),
            models.Index(fields=["user", "created_at", "id"], name="operations_user_created_id"),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="operation_amount_positive")]

    def __str__(self) -> str:
        return f"{self.type} {self.amount} {self.currency} ({self.id})"


class LedgerEntry(models.Model):
    """One leg of an operation: a signed amount on one account."""

    # Checked once per INSERT statement by a trigger (ledger 0007), not by a per-row foreign key:
    # operations and accounts can never be deleted or re-keyed, so the guarantee is the same.
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="entries", db_constraint=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries", db_constraint=False)
    # Denormalised from the account so the balance trigger needs no join.
    currency = models.CharField(max_length=3)
    amount = amount_field()

    class Meta:
        db_table = "ledger_entries"
        verbose_name_plural = "ledger entries"
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_non_zero")]

    def __str__(self) -> str:
        return f"{self.amount:+} on account {self.account_id}"


class LockReason(models.TextChoices):
    VAULT_AVENIR_VESTING = "VAULT_AVENIR_VESTING", "AVENIR vesting"


class LockReferenceType(models.TextChoices):
    VAULT = "VAULT", "Vault"


class LockStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    RELEASED = "RELEASED", "Released"


class WalletLock(models.Model):
    """Money held in a user's WALLET_LOCKED balance, linked to the operation that locked it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet_locks")
    currency = models.CharField(max_length=3)
    amount = amount_field()
    reason = models.CharField(max_length=32, choices=LockReason.choices)
    reference_type = models.CharField(max_length=16, choices=LockReferenceType.choices)
    reference_id = models.UUIDField()
    status = models.CharField(max_length=16, choices=LockStatus.choices, default=LockStatus.ACTIVE)
    # The deposit operation; NULL only on legacy locks (the release then falls back).
    # This and the two below are checked once per statement by a trigger (ledger 0007, 0010).
    operation = models.ForeignKey(
        Operation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet_locks",
        db_constraint=False,
    )
    created_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    # Not indexed: nothing looks locks up by these, and every index costs each release.
    # Checked once per statement by a trigger (ledger 0007), like the entries' references.
    release_operation = models.ForeignKey(
        Operation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="released_locks",
        db_index=False,
        db_constraint=False,
    )
    # The reversal that locked this money again after its release; `operation` stays the deposit.
    reversal_operation = models.ForeignKey(
        Operation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversal_locks",
        db_index=False,
        db_constraint=False,
    )
    # Set on the remainder lock created when a larger lock is partly released.
    split_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        db_table = "wallet_locks"
        indexes = [
            models.Index(
                fields=["user", "currency", "reason", "reference_id", "created_at"],
                condition=Q(status="ACTIVE"),
                name="wallet_locks_active_fallback",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["operation"],
                condition=Q(status="ACTIVE"),
                name="wallet_lock_one_active_per_operation",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_lock_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="ACTIVE", released_at__isnull=True)
                | Q(status="RELEASED", released_at__isnull=False),
                name="wallet_lock_released_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"lock {self.id} {self.amount} {self.currency} {self.status}"
