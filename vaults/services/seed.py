"""Demo and benchmark data: users funded and deposited into the AVENIR vault.

Two paths write the same rows for the same input (a test compares them):
- `services`: the real services (fund_wallet, deposit_to_vault), one deposit at a time;
- `bulk`: set-based SQL on PostgreSQL, for millions of lots in minutes.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from ledger.currencies import parse_amount
from ledger.db import is_postgres
from ledger.services.accounts import ensure_system_account
from ledger.services.funding import fund_wallet
from vaults.exceptions import InvalidRelease
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
        method = "bulk" if is_postgres() and users * lots_per_user > BULK_THRESHOLD else "services"
    if method == "bulk" and not is_postgres():
        raise InvalidRelease("the bulk seed path needs PostgreSQL")
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
    # Same naming and dates as SeedPlan.username / lot_day / deposit_at / *_key.
    statements = [
        """CREATE TEMP TABLE seed_users ON COMMIT DROP AS
           SELECT i, %(prefix)s || '-' || lpad(i::text, 7, '0') AS username
           FROM generate_series(%(first)s, %(last)s) i""",
        """INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                                 date_joined)
           SELECT '!' || md5(random()::text), false, username, '', '', '', false, true, now() FROM seed_users""",
        """CREATE TEMP TABLE seed_wallets ON COMMIT DROP AS
           SELECT s.i, s.username, u.id AS user_id FROM seed_users s JOIN auth_user u ON u.username = s.username""",
        """INSERT INTO ledger_accounts (owner_id, currency, kind, balance, created_at)
           SELECT user_id, %(cur)s, k.kind, CASE k.kind WHEN 'WALLET_LOCKED' THEN %(funded)s ELSE 0 END, now()
           FROM seed_wallets, (VALUES ('WALLET_AVAILABLE'), ('WALLET_LOCKED')) AS k(kind)""",
        """CREATE TEMP TABLE seed_accounts ON COMMIT DROP AS
           SELECT w.i, w.user_id, a.id AS available_id, l.id AS locked_id FROM seed_wallets w
           JOIN ledger_accounts a ON a.owner_id = w.user_id AND a.currency = %(cur)s AND a.kind = 'WALLET_AVAILABLE'
           JOIN ledger_accounts l ON l.owner_id = w.user_id AND l.currency = %(cur)s AND l.kind = 'WALLET_LOCKED'""",
        """CREATE TEMP TABLE seed_funding ON COMMIT DROP AS
           SELECT gen_random_uuid() AS op_id, a.* , w.username FROM seed_accounts a JOIN seed_wallets w USING (i)""",
        """INSERT INTO operations (id, type, user_id, currency, amount, operation_metadata, idempotency_key, created_at)
           SELECT op_id, 'FUNDING', user_id, %(cur)s, %(funded)s, '{}'::jsonb,
                  'seed-funding:' || username || ':' || %(cur)s || ':' || %(day0)s::date, %(funding_at)s
           FROM seed_funding""",
        """INSERT INTO ledger_entries (operation_id, account_id, currency, amount)
           SELECT op_id, %(funding_account)s, %(cur)s, -%(funded)s FROM seed_funding
           UNION ALL SELECT op_id, available_id, %(cur)s, %(funded)s FROM seed_funding""",
        """UPDATE ledger_accounts SET balance = balance - %(funded)s * (%(last)s - %(first)s + 1)
           WHERE id = %(funding_account)s""",
        """CREATE TEMP TABLE seed_deposits ON COMMIT DROP AS
           SELECT gen_random_uuid() AS op_id, f.user_id, f.available_id, f.locked_id, j,
                  %(deposit_prefix)s || 'seed:' || f.username || ':' || %(cur)s || ':' || %(day0)s::date || ':' || j
                      AS idempotency_key,
                  (%(day0)s::date + ((f.i * %(m)s + j) %% %(spread)s))::date AS day
           FROM seed_funding f, generate_series(0, %(m)s - 1) j""",
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
    ]
    cursor.execute("SET LOCAL TIME ZONE 'UTC'")
    for sql in statements:
        cursor.execute(sql, params)
