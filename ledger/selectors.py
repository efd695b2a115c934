"""Read paths of the ledger."""

from dataclasses import dataclass

from ledger.db import fetch_rows
from ledger.models import USER_WALLET_KINDS


@dataclass(frozen=True)
class Violation:
    invariant: int
    detail: str


def ledger_violations() -> list[Violation]:
    """Invariants 1 and 2 of DESIGN.md, set-based: balanced operations, balances equal
    to the sum of their entries, no negative user wallet."""
    found = [
        Violation(1, f"operation {op_id} entries sum to {total} {currency}")
        for op_id, currency, total in fetch_rows(
            "SELECT operation_id, currency, SUM(amount) FROM ledger_entries "
            "GROUP BY operation_id, currency HAVING SUM(amount) <> 0"
        )
    ]
    found += [
        Violation(1, f"operation {op_id} has no entries")
        for (op_id,) in fetch_rows(
            "SELECT o.id FROM operations o "
            "WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.operation_id = o.id)"
        )
    ]
    found += [
        Violation(2, f"account {pk} balance {balance} != sum of entries {total}")
        for pk, balance, total in fetch_rows(
            "SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0) FROM ledger_accounts a "
            "LEFT JOIN ledger_entries e ON e.account_id = a.id GROUP BY a.id, a.balance "
            "HAVING a.balance <> COALESCE(SUM(e.amount), 0)"
        )
    ]
    kinds = ", ".join(f"'{k.value}'" for k in USER_WALLET_KINDS)
    found += [
        Violation(2, f"user wallet {pk} is negative: {balance}")
        for pk, balance in fetch_rows(
            f"SELECT id, balance FROM ledger_accounts WHERE kind IN ({kinds}) AND balance < 0"
        )
    ]
    return found
