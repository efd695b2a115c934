"""verify_ledger for AVENIR: the ledger's invariants (ledger.verification) plus the one that
ties the wallet locks to the vesting lots, in one READ ONLY snapshot.

- `avenir_locks_match_lots`: per (user, currency), the ACTIVE AVENIR wallet locks sum to the
  remaining amount of the user's unreleased AVENIR lots (sql/verify_lots_screen.sql, a seeded
  checksum; sql/verify_lots.sql names the users when it differs).

Behind `manage.py verify_ledger` and the Celery task that checks the ledger after a release.
The lock audit (vaults.selectors.lock_audit) explains a mismatch lot by lot; this says whether there is one.
"""

import secrets
from collections.abc import Sequence
from pathlib import Path

from common.db import fetch_rows
from ledger.models import LockReason
from ledger.verification import (
    DEFAULT_MAX_EXAMPLES,
    CheckResult,
    LedgerVerification,
    check_result,
    collect,
    load_sql,
)
from ledger.verification import verify_ledger as verify_ledger_only
from vaults.models import AVENIR_CODE

_SQL = Path(__file__).with_name("sql")

LOTS_CHECK = "avenir_locks_match_lots"
LOTS_TITLE = "ACTIVE AVENIR locks equal the unreleased AVENIR lots, per user and currency"


def verify_ledger(*, currency: str | None = None, max_examples: int = DEFAULT_MAX_EXAMPLES) -> LedgerVerification:
    """Every ledger invariant and the AVENIR lots', for one currency or all.

    Raises UnknownCurrency (a LedgerError) for a currency the ledger does not know.
    """
    return verify_ledger_only(currency=currency, max_examples=max_examples, extra=[avenir_checks])


def avenir_checks(currency: str | None, max_examples: int) -> Sequence[CheckResult]:
    """The screen (sql/verify_lots_screen.sql), then, if it differs, the exact query (sql/verify_lots.sql)."""
    params = {
        "currency": currency,
        "vault_code": AVENIR_CODE,
        "reason": LockReason.VAULT_AVENIR_VESTING.value,
        "seed": secrets.randbits(63),
        "max_rows": max(max_examples, 1),
    }
    violations, payloads = 0, []
    if fetch_rows(load_sql(_SQL / "verify_lots_screen.sql"), params):
        violations, payloads = collect(fetch_rows(load_sql(_SQL / "verify_lots.sql"), params)).get(LOTS_CHECK, (0, []))
        if not violations:  # cannot happen (exact sums in one snapshot): never report "clean" then
            raise AssertionError("the AVENIR lots checksum differs but no user is off")
    return [check_result(LOTS_CHECK, LOTS_TITLE, violations, payloads, max_examples=max_examples, describe=_describe)]


def _describe(name: str, p: dict) -> str:
    return (
        f"user {p['user_id']} {p['currency']}: ACTIVE AVENIR locks {p['active_locks']} "
        f"({p['active_lock_count']} lock(s)), unreleased lots {p['unreleased_lots']} "
        f"({p['unreleased_lot_count']} lot(s))"
    )
