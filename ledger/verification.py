"""verify_ledger: the ledger's invariants, checked by set-based SQL in one consistent snapshot.

The ledger's own checks (sql/verify_screen.sql says which fail, sql/verify_split.sql tells the
first two apart when their shared checksum differs, then sql/verify_<check>.sql names the
offending rows of a failing check, with their exact count):
- `operations_balanced`: the entries of every operation sum to zero, per currency;
- `account_balances`: every account's balance is the sum of its entries (in its currency);
- `user_wallets_non_negative`: no user wallet is negative;
- `locked_balances_match_locks`: every WALLET_LOCKED balance is the sum of its owner's ACTIVE
  wallet locks in that currency.

The ledger is a leaf: the apps above it add their own checks through `extra` (vaults adds the
lots'), and run everything in the same READ ONLY, REPEATABLE READ snapshot, so a release
committing meanwhile never shows up as half done.

Cost: the screen reads each table once and groups nothing (not by operation, account, user or
even currency): seeded checksums (see verify_screen.sql) with one multiplication per entry, per
account and per ACTIVE lock. Only for a failing check do the exact queries group the rows, to
name them.
"""

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils import timezone

from common.db import fetch_rows, read_only_transaction
from ledger.currencies import check_currency

DEFAULT_MAX_EXAMPLES = 5

TITLES: dict[str, str] = {
    "operations_balanced": "The entries of each operation sum to zero, per currency",
    "account_balances": "Each account balance equals the sum of its entries",
    "user_wallets_non_negative": "No user wallet balance is negative",
    "locked_balances_match_locks": "Each WALLET_LOCKED balance equals the sum of its ACTIVE wallet locks",
}

_SQL = Path(__file__).with_name("sql")


@cache
def load_sql(path: Path) -> str:
    return path.read_text()


@dataclass(frozen=True)
class Violation:
    """One example of a violated check: `values` is the offending row (ids, currency, and
    amounts as decimal strings with their scale), `detail` a sentence for people."""

    detail: str
    values: Mapping[str, Any]

    def to_json(self) -> dict:
        return {**self.values, "detail": self.detail}


@dataclass(frozen=True)
class CheckResult:
    name: str
    title: str
    violations: int  # exact, even when `examples` holds only the first few
    examples: tuple[Violation, ...] = ()

    @property
    def ok(self) -> bool:
        return self.violations == 0

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "ok": self.ok,
            "violations": self.violations,
            "examples": [example.to_json() for example in self.examples],
        }


@dataclass(frozen=True)
class LedgerVerification:
    currency: str | None
    checks: tuple[CheckResult, ...]
    generated_at: datetime
    seconds: float

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def violations(self) -> int:
        return sum(check.violations for check in self.checks)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(check for check in self.checks if not check.ok)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def check(self, name: str) -> CheckResult:
        return next(check for check in self.checks if check.name == name)

    def to_json(self) -> dict:
        return {
            "verification": "ledger",
            "currency": self.currency,
            "ok": self.ok,
            "violations": self.violations,
            "checks": [check.to_json() for check in self.checks],
            "generated_at": self.generated_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
        }


# A check of an app above the ledger: (currency or None, max examples) -> its results,
# run inside the verification's snapshot.
ExtraChecks = Callable[[str | None, int], Sequence[CheckResult]]


def verify_ledger(
    *, currency: str | None = None, max_examples: int = DEFAULT_MAX_EXAMPLES, extra: Sequence[ExtraChecks] = ()
) -> LedgerVerification:
    """Every check of the ledger, then those of `extra`, in one READ ONLY snapshot.

    Raises UnknownCurrency for a currency the ledger does not know, before any query.
    """
    if currency is not None:
        check_currency(currency)
    if max_examples < 0:
        raise ValueError("max_examples must be >= 0")
    started = time.perf_counter()
    with read_only_transaction():
        with connection.cursor() as cursor:
            # These are big scans and aggregates: compiling them costs more than it saves.
            cursor.execute("SET LOCAL jit = off")
        checks = list(ledger_checks(currency=currency, max_examples=max_examples))
        for more in extra:
            checks.extend(more(currency, max_examples))
    return LedgerVerification(
        currency=currency,
        checks=tuple(checks),
        generated_at=timezone.now(),
        seconds=time.perf_counter() - started,
    )


def ledger_checks(*, currency: str | None, max_examples: int) -> tuple[CheckResult, ...]:
    """The ledger's checks, in the caller's transaction (verify_ledger gives them one snapshot):
    the screen (sql/verify_screen.sql), then the exact query of each check it finds failing."""
    params = {"currency": currency, "seed": secrets.randbits(63), "max_rows": max(max_examples, 1)}
    failing = {name for (name,) in fetch_rows(load_sql(_SQL / "verify_screen.sql"), params)}
    if "ledger_checksum" in failing:  # operations, accounts or both: the halves of the checksum say
        failing.remove("ledger_checksum")
        failing.update(name for (name,) in fetch_rows(load_sql(_SQL / "verify_split.sql"), params))
    found: dict[str, tuple[int, list[dict]]] = {}
    for check in sorted(failing):
        found.update(collect(fetch_rows(load_sql(_SQL / f"verify_{check}.sql"), params)))
    if not failing <= found.keys():
        # Cannot happen (exact sums in one snapshot): never report "clean" on a failed checksum.
        raise AssertionError(f"checksums of {sorted(failing - found.keys())} differ but no row is off")
    return tuple(
        check_result(name, TITLES[name], *found.get(name, (0, [])), max_examples=max_examples, describe=describe)
        for name in TITLES
    )


def collect(rows: Sequence[tuple[str, dict, int]]) -> dict[str, tuple[int, list[dict]]]:
    """{check name: (exact count, first payloads)} from rows of (check name, payload, count)."""
    found: dict[str, tuple[int, list[dict]]] = {}
    for name, payload, total in rows:
        # Django's PostgreSQL backend leaves jsonb as text (JSONField decodes it itself).
        found.setdefault(name, (total, []))[1].append(json.loads(payload) if isinstance(payload, str) else payload)
    return found


def check_result(
    name: str,
    title: str,
    violations: int,
    payloads: Sequence[dict],
    *,
    max_examples: int,
    describe: Callable[[str, dict], str],
) -> CheckResult:
    examples = tuple(Violation(detail=describe(name, p), values=p) for p in payloads[:max_examples])
    return CheckResult(name=name, title=title, violations=violations, examples=examples)


def describe(name: str, p: dict) -> str:
    if name == "operations_balanced":
        return (
            f"operation {p['operation_id']}: its {p['entry_count']} entries sum to {p['entries_total']} "
            f"{p['currency']}, not zero"
        )
    if name == "account_balances" and "entries_currency" in p:
        if p["currency"] is None:
            return f"account {p['account_id']} does not exist but has entries ({p['entries_total']})"
        return (
            f"account {p['account_id']} ({p['kind']} {p['currency']}) has entries in {p['entries_currency']} "
            f"({p['entries_total']})"
        )
    if name == "account_balances":
        return (
            f"account {p['account_id']} ({p['kind']} {p['currency']}, owner {p['owner_id']}): balance "
            f"{p['balance']}, sum of entries {p['entries_total']}"
        )
    if name == "user_wallets_non_negative":
        return f"account {p['account_id']} ({p['kind']} {p['currency']}, owner {p['owner_id']}): balance {p['balance']}"
    return (
        f"user {p['owner_id']} {p['currency']}: WALLET_LOCKED balance {p['locked_balance']}"
        f"{'' if p['account_id'] is not None else ' (no account)'}, ACTIVE locks {p['active_locks']} "
        f"({p['active_lock_count']} lock(s))"
    )
