"""verify_ledger, recorded: the result of each verification is kept in
`vault_ledger_verifications`, so that /metrics exports the last one per currency and an
alert fires when it failed or is too old.

The verification reads in its own READ ONLY snapshot; the record is written afterwards in
a short transaction of its own. A record that cannot be written (a read-only replica, the
database gone meanwhile) is logged and never hides the verification's result.
"""

import structlog
from django.db import DatabaseError, transaction

from ledger.verification import DEFAULT_MAX_EXAMPLES, LedgerVerification
from vaults.models import LedgerVerificationRecord, VerificationTrigger
from vaults.verification import verify_ledger

log = structlog.get_logger("vaults.verification")


def verify_and_record(
    *,
    currency: str | None = None,
    trigger: VerificationTrigger,
    actor: str = "",
    trace_id: str = "",
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> LedgerVerification:
    """verify_ledger (every invariant, one currency or all), then its record.

    Raises what verify_ledger raises (UnknownCurrency for a currency the ledger does not know),
    before anything is written."""
    verification = verify_ledger(currency=currency, max_examples=max_examples)
    record_verification(verification=verification, trigger=trigger, actor=actor, trace_id=trace_id)
    return verification


def record_verification(
    *, verification: LedgerVerification, trigger: VerificationTrigger, actor: str = "", trace_id: str = ""
) -> int | None:
    """Store one verification's outcome; returns the record's id, or None when it could not be written."""
    try:
        with transaction.atomic():  # a savepoint inside a caller's transaction: a failure undoes only this
            record = LedgerVerificationRecord.objects.create(
                currency=verification.currency or "",
                ok=verification.ok,
                violations=verification.violations,
                failed_checks=[check.name for check in verification.failed],
                seconds=max(verification.seconds, 0.0),
                trigger=trigger,
                actor=actor[:150],
                trace_id=trace_id[:64],
            )
    except DatabaseError:
        log.exception(
            "the ledger verification could not be recorded; /metrics still shows the previous one",
            currency=verification.currency,
            ok=verification.ok,
        )
        return None
    return record.pk
