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
    cursor.execute(_USERS, params)
    cursor.execute(_NEW_USERS, params)
    reused = cursor.rowcount < last - first + 1
    for sql in _PLAN:
        cursor.execute(sql, params)
    if reused:  # only users that existed before can have seed operations already
        _refuse_conflicts(cursor, params)
        for sql in _SKIP_EXISTING:
            cursor.execute(sql, params)
    for sql in _WRITE:
        cursor.execute(sql, params)


# What the batch would write. Existing users and wallets are reused, and operations whose
# idempotency key exists are skipped: the services do the same. Same naming and dates as
# SeedPlan.username / lot_day / deposit_at / *_key.
_USERS = """CREATE TEMP TABLE seed_users ON COMMIT DROP AS
    SELECT i, %(prefix)s || '-' || lpad(i::text, 7, '0') AS username FROM generate_series(%(first)s, %(last)s) i"""
_NEW_USERS = """
    INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                           date_joined)
    SELECT '!' || md5(random()::text), false, username, '', '', '', false, true, now() FROM seed_users
    ON CONFLICT (username) DO NOTHING"""
_PLAN = [
    """INSERT INTO ledger_accounts (owner_id, currency, kind, balance, created_at)
       SELECT u.id, %(cur)s, k.kind, 0, now()
       FROM seed_users s JOIN auth_user u ON u.username = s.username,
            (VALUES ('WALLET_AVAILABLE'), ('WALLET_LOCKED')) AS k(kind)
       ON CONFLICT DO NOTHING""",
    """CREATE TEMP TABLE seed_accounts ON COMMIT DROP AS
       SELECT s.i, s.username, u.id AS user_id, a.id AS available_id, l.id AS locked_id
       FROM seed_users s JOIN auth_user u ON u.username = s.username
       JOIN ledger_accounts a ON a.owner_id = u.id AND a.currency = %(cur)s AND a.kind = 'WALLET_AVAILABLE'
       JOIN ledger_accounts l ON l.owner_id = u.id AND l.currency = %(cur)s AND l.kind = 'WALLET_LOCKED'""",
    """CREATE TEMP TABLE seed_funding ON COMMIT DROP AS
       SELECT gen_random_uuid() AS op_id, user_id, available_id,
              'seed-funding:' || username || ':' || %(cur)s || ':' || %(day0)s::date AS idempotency_key
       FROM seed_accounts""",
    """CREATE TEMP TABLE seed_deposits ON COMMIT DROP AS
       SELECT gen_random_uuid() AS op_id, a.user_id, a.available_id, a.locked_id, j,
              'seed:' || a.username || ':' || %(cur)s || ':' || %(day0)s::date || ':' || j AS key,
              %(deposit_prefix)s || 'seed:' || a.username || ':' || %(cur)s || ':' || %(day0)s::date || ':' || j
                  AS idempotency_key,
              (%(day0)s::date + ((a.i * %(m)s + j) %% %(spread)s))::date AS day
       FROM seed_accounts a, generate_series(0, %(m)s - 1) j""",
]

# A key already used for another movement, as post_operation and deposit_to_vault check it.
_FUNDING_CONFLICT = """
    SELECT f.idempotency_key FROM seed_funding f JOIN operations o ON o.idempotency_key = f.idempotency_key
    WHERE (o.type, o.currency, o.amount, o.user_id) IS DISTINCT FROM ('FUNDING', %(cur)s, %(funded)s, f.user_id)
    LIMIT 1"""
_DEPOSIT_CONFLICT = """
    SELECT d.key FROM seed_deposits d JOIN operations o ON o.idempotency_key = d.idempotency_key
    LEFT JOIN vault_vesting_lots l ON l.source_operation_id = o.id
    WHERE (o.user_id, l.vault_id, l.amount) IS DISTINCT FROM (d.user_id, %(vault_id)s, %(amount)s)
    LIMIT 1"""


def _refuse_conflicts(cursor, params: dict) -> None:
    cursor.execute(_FUNDING_CONFLICT, params)
    if row := cursor.fetchone():
        raise IdempotencyConflict(f"idempotency key {row[0]!r} was used for another operation")
    cursor.execute(_DEPOSIT_CONFLICT, params)
    if row := cursor.fetchone():
        raise DepositConflict(f"idempotency key {row[0]!r} was used for another deposit")


_SKIP_EXISTING = [
    "DELETE FROM seed_funding f USING operations o WHERE o.idempotency_key = f.idempotency_key",
    "DELETE FROM seed_deposits d USING operations o WHERE o.idempotency_key = d.idempotency_key",
]

_WRITE = [
    """INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at)
       SELECT op_id, 'FUNDING', user_id, %(cur)s, %(funded)s, '{}'::jsonb, idempotency_key, %(funding_at)s
       FROM seed_funding""",
    """INSERT INTO ledger_entries (operation_id, account_id, currency, amount)
       SELECT op_id, %(funding_account)s, %(cur)s, -%(funded)s FROM seed_funding
       UNION ALL SELECT op_id, available_id, %(cur)s, %(funded)s FROM seed_funding""",
    """INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at)
       SELECT op_id, 'VAULT_DEPOSIT', user_id, %(cur)s, %(amount)s,
              jsonb_build_object('vault_code', %(vault_code)s, 'deposit_day', to_char(day, 'YYYY-MM-DD')),
              idempotency_key, day + time '00:05' + j * interval '1 second'
       FROM seed_deposits""",
    """INSERT INTO ledger_entries (operation_id, account_id, currency, amount)
       SELECT op_id, available_id, %(cur)s, -%(amount)s FROM seed_deposits
       UNION ALL SELECT op_id, locked_id, %(cur)s, %(amount)s FROM seed_deposits""",
    """INSERT INTO wallet_locks (user_id, currency, amount, reason, reference_type, reference_id, status,
                                 operation_id, created_at)
       SELECT user_id, %(cur)s, %(amount)s, 'VAULT_AVENIR_VESTING', 'VAULT', %(vault_id)s, 'ACTIVE', op_id,
              day + time '00:05' + j * interval '1 second'
       FROM seed_deposits""",
    """INSERT INTO vault_vesting_lots (vault_id, vault_code, user_id, currency, amount, released_amount,
                                      deposit_day, release_day, status, source_operation_id, created_at)
       SELECT %(vault_id)s, %(vault_code)s, user_id, %(cur)s, %(amount)s, 0, day, day + %(vesting)s, 'VESTED',
              op_id, day + time '00:05' + j * interval '1 second'
       FROM seed_deposits""",
    # Each balance moves by the sum of its new entries (the CHECK refuses a negative wallet).
    """UPDATE ledger_accounts a SET balance = a.balance + d.delta
       FROM (SELECT account_id, SUM(amount) AS delta FROM (
                 SELECT available_id AS account_id, %(funded)s AS amount FROM seed_funding
                 UNION ALL SELECT %(funding_account)s, -%(funded)s FROM seed_funding
                 UNION ALL SELECT available_id, -%(amount)s FROM seed_deposits
                 UNION ALL SELECT locked_id, %(amount)s FROM seed_deposits) e
             GROUP BY account_id) d
       WHERE a.id = d.account_id""",
]
