"""Demo and benchmark data: users funded and deposited into the AVENIR vault.

Two paths write the same rows for the same input (a test compares them):
- `services`: the real services (fund_wallet, deposit_to_vault), one deposit at a time;
- `bulk`: set-based SQL, for millions of lots in minutes.
Both are additive and idempotent: users of the prefix that exist are reused, and a
funding or deposit whose idempotency key exists is not written again.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from ledger.currencies import parse_amount
from ledger.exceptions import IdempotencyConflict
from ledger.services.accounts import ensure_system_account
from ledger.services.funding import fund_wallet
from vaults.exceptions import DepositConflict, InvalidRelease
from vaults.selectors import get_vault
from vaults.services.deposit import deposit_idempotency_key, deposit_to_vault

BULK_THRESHOLD = 5000  # lots; above this "auto" takes the bulk path
BULK_USERS_PER_TRANSACTION = 20000


@dataclass(frozen=True)
class SeedPlan:
    users: int
    lots_per_user: int
    deposit_day: date
    spread_days: int
    amount: Decimal
    currency: str
    prefix: str

    def username(self, i: int) -> str:
        return f"{self.prefix}-{i:07d}"

    def lot_day(self, i: int, j: int) -> date:
        return self.deposit_day + timedelta(days=(i * self.lots_per_user + j) % self.spread_days)

    def funding_at(self) -> datetime:
        return datetime.combine(self.deposit_day, time.min, tzinfo=UTC)

    def deposit_at(self, i: int, j: int) -> datetime:
        return datetime.combine(self.lot_day(i, j), time(0, 5), tzinfo=UTC) + timedelta(seconds=j)

    def funding_key(self, username: str) -> str:
        return f"seed-funding:{username}:{self.currency}:{self.deposit_day}"

    def deposit_key(self, username: str, j: int) -> str:
        return f"seed:{username}:{self.currency}:{self.deposit_day}:{j}"


@dataclass(frozen=True)
class SeedResult:
    method: str
    users: int
    lots: int
    amount_locked: Decimal
    currency: str
    first_release_day: date
    last_release_day: date


def seed_avenir(
    *,
    users: int,
    lots_per_user: int,
    deposit_day: date,
    spread_days: int = 1,
    amount: Decimal | str = Decimal("10000.00"),
    currency: str = "AED",
    prefix: str = "avenir-seed",
    method: str = "auto",
) -> SeedResult:
    vault = get_vault(currency=currency)
    amount = parse_amount(amount, currency)
    if users < 1 or lots_per_user < 1 or spread_days < 1:
        raise InvalidRelease("users, lots per user and spread days must be at least 1")
    if lots_per_user > 80000:
        raise InvalidRelease("at most 80000 lots per user")
    if deposit_day > datetime.now(UTC).date():
        raise InvalidRelease(f"deposit day {deposit_day} is in the future")
    if method not in ("auto", "services", "bulk"):
        raise InvalidRelease(f"unknown seed method {method!r}")
    if method == "auto":
        method = "bulk" if users * lots_per_user > BULK_THRESHOLD else "services"
    plan = SeedPlan(users, lots_per_user, deposit_day, spread_days, amount, currency, prefix)
    (_seed_bulk if method == "bulk" else _seed_services)(plan, vault)
    days = [plan.lot_day(i, j) for i in range(min(users, spread_days)) for j in range(lots_per_user)]
    return SeedResult(
        method=method,
        users=users,
        lots=users * lots_per_user,
        amount_locked=amount * users * lots_per_user,
        currency=currency,
        first_release_day=min(days) + timedelta(days=vault.vesting_days),
        last_release_day=max(days) + timedelta(days=vault.vesting_days),
    )


def _seed_services(plan: SeedPlan, vault) -> None:
    User = get_user_model()
    for i in range(plan.users):
        with transaction.atomic():
            username = plan.username(i)
            user, _ = User.objects.get_or_create(username=username, defaults={"password": make_password(None)})
            fund_wallet(
                user_id=user.pk,
                currency=plan.currency,
                amount=plan.amount * plan.lots_per_user,
                idempotency_key=plan.funding_key(username),
                at=plan.funding_at(),
            )
            for j in range(plan.lots_per_user):
                deposit_to_vault(
                    user_id=user.pk,
                    vault=vault,
                    amount=plan.amount,
                    idempotency_key=plan.deposit_key(username, j),
                    at=plan.deposit_at(i, j),
                )


def _seed_bulk(plan: SeedPlan, vault) -> None:
    """The same rows as _seed_services, written with INSERT ... SELECT per batch of users."""
    funding_account = ensure_system_account(currency=plan.currency)
    for first in range(0, plan.users, BULK_USERS_PER_TRANSACTION):
        last = min(plan.users, first + BULK_USERS_PER_TRANSACTION) - 1
        with transaction.atomic(), connection.cursor() as cursor:
            _bulk_batch(cursor, plan, vault, funding_account, first, last)


def _bulk_batch(cursor, plan: SeedPlan, vault, funding_account: int, first: int, last: int) -> None:
    m = plan.lots_per_user
    funded = plan.amount * m
    params = {
        "first": first,
        "last": last,
        "m": m,
        "prefix": plan.prefix,
        "cur": plan.currency,
        "amount": plan.amount,
        "funded": funded,
        "day0": plan.deposit_day,
        "spread": plan.spread_days,
        "funding_at": plan.funding_at(),
        "vault_id": vault.pk,
        "vault_code": vault.code,
        "vesting": vault.vesting_days,
        "funding_account": funding_account,
        "deposit_prefix": deposit_idempotency_key(""),
    }
    cursor.execute("SET LOCAL TIME ZONE 'UTC'")
    users, new_users, *plan_rest = _statements("seed_plan")
    cursor.execute(users, params)
    cursor.execute(new_users, params)
    reused = cursor.rowcount < last - first + 1
    for sql in plan_rest:
        cursor.execute(sql, params)
    if reused:  # only users that existed before can have seed operations already
        _refuse_conflicts(cursor, params)
        for sql in _statements("seed_skip_existing"):
            cursor.execute(sql, params)
    for sql in _statements("seed_write"):
        cursor.execute(sql, params)


_SQL = Path(__file__).with_name("sql")


@cache
def _statements(name: str) -> tuple[str, ...]:
    """The statements of sql/<name>.sql, in order (none of them contains a semicolon)."""
    text = (_SQL / f"{name}.sql").read_text()
    return tuple(statement.strip() for statement in text.split(";") if statement.strip())


def _refuse_conflicts(cursor, params: dict) -> None:
    funding_conflict, deposit_conflict = _statements("seed_conflicts")
    cursor.execute(funding_conflict, params)
    if row := cursor.fetchone():
        raise IdempotencyConflict(f"idempotency key {row[0]!r} was used for another operation")
    cursor.execute(deposit_conflict, params)
    if row := cursor.fetchone():
        raise DepositConflict(f"idempotency key {row[0]!r} was used for another deposit")
