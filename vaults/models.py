"""Vaults, vesting lots and the history of release runs."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now

from ledger.models import Operation, amount_field

AVENIR_CODE = "AVENIR"


class Vault(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=16)
    product_label = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    vesting_days = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "vaults"
        constraints = [models.UniqueConstraint(fields=["code", "currency"], name="vault_unique_code_currency")]

    def __str__(self) -> str:
        return f"{self.product_label} ({self.currency})"


class LotStatus(models.TextChoices):
    VESTED = "VESTED", "Vested (locked)"
    RELEASED = "RELEASED", "Released"


class VestingLot(models.Model):
    """One vault deposit, locked until its release_day."""

    # Indexed by the composite indexes below, whose first column is the vault.
    vault = models.ForeignKey(Vault, on_delete=models.PROTECT, related_name="lots", db_index=False)
    vault_code = models.CharField(max_length=16)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vesting_lots")
    currency = models.CharField(max_length=3)
    amount = amount_field()
    released_amount = amount_field(default=0)
    deposit_day = models.DateField()
    release_day = models.DateField()
    status = models.CharField(max_length=16, choices=LotStatus.choices, default=LotStatus.VESTED)
    source_operation = models.OneToOneField(Operation, on_delete=models.PROTECT, related_name="vesting_lot")
    # Checked once per statement by a trigger (vaults 0007), not by a per-row foreign key.
    last_release_operation = models.ForeignKey(
        Operation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="released_lots",
        db_constraint=False,
    )
    last_released_at = models.DateTimeField(null=True, blank=True)
    # How many of its releases were reversed: its next release is release number reversal_count + 1,
    # with its own idempotency key (one per release, never more).
    reversal_count = models.PositiveSmallIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "vault_vesting_lots"
        permissions = [
            ("release_vestinglot", "Can release matured vesting lots"),
            ("reverse_release", "Can reverse releases of vesting lots"),
        ]
        indexes = [
            # The release job's selection: only pending lots, so its cost does not grow with history.
            models.Index(
                fields=["vault", "currency", "release_day", "id"],
                condition=Q(status="VESTED"),
                name="lots_pending_by_release_day",
            ),
            # Replays: the released lots of one day are counted as skipped.
            models.Index(
                fields=["vault", "currency", "release_day", "status"],
                name="lots_by_release_day",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="lot_amount_positive"),
            models.CheckConstraint(
                condition=Q(released_amount__gte=0, released_amount__lte=F("amount")),
                name="lot_released_amount_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(release_day__gte=F("deposit_day")),
                name="lot_release_after_deposit",
            ),
            models.CheckConstraint(
                condition=Q(status="VESTED")
                | Q(
                    status="RELEASED",
                    released_amount=F("amount"),
                    last_release_operation__isnull=False,
                ),
                name="lot_released_is_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk} {self.amount} {self.currency} {self.status} ({self.release_day})"


class ReleaseTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    # The watchdog: a day whose scheduled run did not finish the work (the worker died, the
    # run gave up) is finished by a run of its own. A check with nothing to do records no run.
    CATCH_UP = "catch_up", "Catch-up"
    CLI = "cli", "Command line"
    ADMIN = "admin", "Admin"


class RunStatus(models.TextChoices):
    RUNNING = "RUNNING", "Running"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS", "Completed with errors"
    FAILED = "FAILED", "Failed"
    # Its process died (SIGKILL, OOM, a lost worker): a later run found its lease expired
    # and took over. The counts are exact up to its last committed chunk.
    ABANDONED = "ABANDONED", "Abandoned"


# A run that finished its walk: its errors, if any, are per lot.
GOOD_RUN_STATUSES = (RunStatus.SUCCEEDED, RunStatus.COMPLETED_WITH_ERRORS)


class RunRecord(models.Model):
    """What every run row has (release runs and reversal runs): who started it and how, its
    lease (`heartbeat_at`, renewed by every chunk and by the run's lease keeper), its status
    and the counts its committed chunks added, exact after any crash."""

    trace_id = models.CharField(max_length=64, unique=True)
    currency = models.CharField(max_length=3)
    trigger = models.CharField(max_length=16, choices=ReleaseTrigger.choices)
    actor = models.CharField(max_length=150)
    task_id = models.CharField(max_length=64, blank=True)
    # host:pid of the process that runs it: which process to look at, or stop, while it is RUNNING.
    holder = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=32, choices=RunStatus.choices, default=RunStatus.RUNNING)
    exit_code = models.SmallIntegerField(null=True, blank=True)
    # The operations the run wrote: releases for a release run, reversals for a reversal run.
    executed_count = models.PositiveIntegerField(default=0)
    executed_amount = amount_field(default=0)
    errors_count = models.PositiveIntegerField(default=0)
    # The database's clock, like started_at: app servers' clocks may drift.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return self.trace_id

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ReleaseRun(RunRecord):
    """One real run of the release job. Dry runs write nothing, so they have no row.

    The RUNNING row is also the run's lease: at most one per (vault, currency, as_of),
    renewed through `heartbeat_at` by every chunk. A row whose heartbeat is older than
    the lease is taken over by the next run and marked ABANDONED."""

    vault = models.ForeignKey(Vault, on_delete=models.PROTECT, related_name="release_runs")
    as_of = models.DateField()
    selected_lots_count = models.PositiveIntegerField(null=True, blank=True)
    locks_closed_count = models.PositiveIntegerField(default=0)

    class Meta(RunRecord.Meta):
        db_table = "vault_release_runs"
        indexes = [models.Index(fields=["currency", "as_of", "status"], name="release_runs_by_day")]
        constraints = [
            # The run lease: plain rows and statements, so it holds through a transaction pooler.
            models.UniqueConstraint(
                fields=["vault", "currency", "as_of"],
                condition=Q(status="RUNNING"),
                name="release_run_lease",
            ),
        ]


class ReversalScope(models.TextChoices):
    RUN = "run", "A release run"
    LOTS = "lots", "Selected lots"
    DAY = "as_of", "A business day"


class ReversalRun(RunRecord):
    """One real run of the reversal service: the releases of exactly one scope (a release
    run's operations, the current releases of selected lots, or every release operation of
    one as_of) taken back, each by its own compensating operation. Several may run at once
    (rows are locked lot by lot, and a reversal's key makes it once-only); a RUNNING row
    whose heartbeat is older than the lease belonged to a process that died, and the next
    reversal run marks it ABANDONED."""

    vault = models.ForeignKey(Vault, on_delete=models.PROTECT, related_name="reversal_runs")
    scope = models.CharField(max_length=8, choices=ReversalScope.choices)
    release_run = models.ForeignKey(
        ReleaseRun, null=True, blank=True, on_delete=models.PROTECT, related_name="reversal_runs"
    )
    as_of = models.DateField(null=True, blank=True)  # the reversed releases' business date (scope as_of)
    selected_lots_count = models.PositiveIntegerField(null=True, blank=True)
    reason = models.TextField()
    # The lots' new release day: this date, or each lot's deposit day plus vesting_days.
    release_day = models.DateField(null=True, blank=True)
    vesting_days = models.PositiveIntegerField(null=True, blank=True)
    skipped_count = models.PositiveIntegerField(default=0)

    class Meta(RunRecord.Meta):
        db_table = "vault_reversal_runs"
        constraints = [
            models.CheckConstraint(
                condition=Q(release_day__isnull=False, vesting_days__isnull=True)
                | Q(release_day__isnull=True, vesting_days__isnull=False),
                name="reversal_run_one_new_day_rule",
            ),
            models.CheckConstraint(
                condition=Q(scope="run", release_run__isnull=False)
                | Q(scope="lots", selected_lots_count__isnull=False)
                | Q(scope="as_of", as_of__isnull=False),
                name="reversal_run_scope_is_set",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="reversal_run_has_a_reason"),
        ]


class LockRepair(models.Model):
    """The record of one audit repair: the ACTIVE lock of a RELEASED lot, closed by an operator."""

    lock = models.ForeignKey("ledger.WalletLock", on_delete=models.PROTECT, related_name="repairs")
    lot = models.ForeignKey(VestingLot, on_delete=models.PROTECT, related_name="lock_repairs")
    amount = amount_field()
    actor = models.CharField(max_length=150)
    trace_id = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "vault_lock_repairs"
        ordering = ["-created_at", "-id"]
        permissions = [("repair_wallet_lock", "Can close the ACTIVE wallet lock of a released lot")]

    def __str__(self) -> str:
        return f"repair {self.trace_id}: lock {self.lock_id} of lot {self.lot_id}"


class VerificationTrigger(models.TextChoices):
    AFTER_RELEASE = "after_release", "After a release"
    CLI = "cli", "Command line"


class LedgerVerificationRecord(models.Model):
    """The result of one verify_ledger, kept so that monitoring exports the last one per
    currency (`avenir_ledger_verification_*`): the Celery worker records one after each
    real release, `manage.py verify_ledger` one per call (unless --no-record)."""

    # The database's clock, like the run rows: app servers' clocks may drift.
    checked_at = models.DateTimeField(db_default=Now())
    currency = models.CharField(max_length=3, blank=True)  # "": every currency was checked
    ok = models.BooleanField()
    violations = models.PositiveIntegerField()
    failed_checks = models.JSONField(default=list, blank=True)  # the names of the failing checks
    seconds = models.FloatField()
    trigger = models.CharField(max_length=16, choices=VerificationTrigger.choices)
    actor = models.CharField(max_length=150, blank=True)
    trace_id = models.CharField(max_length=64, blank=True)  # the release run it followed, if any

    class Meta:
        db_table = "vault_ledger_verifications"
        verbose_name = "ledger verification"
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(F("checked_at").desc(), F("id").desc(), name="ledger_verifications_newest")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ok=True, violations=0) | Q(ok=False, violations__gt=0),
                name="ledger_verification_ok_iff_clean",
            ),
            models.CheckConstraint(condition=Q(seconds__gte=0), name="ledger_verification_seconds_non_negative"),
        ]

    def __str__(self) -> str:
        verdict = "clean" if self.ok else f"{self.violations} violation(s)"
        return f"verify_ledger {self.currency or 'all currencies'} {self.checked_at:%Y-%m-%d %H:%M:%S}: {verdict}"
