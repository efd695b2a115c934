"""verify_ledger (ledger.verification + vaults.verification) and `manage.py verify_ledger`: every
ledger invariant, clean and after corruptions made with raw SQL."""

import dataclasses
import json
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ledger.exceptions import UnknownCurrency
from ledger.models import Account, AccountKind, LedgerEntry, Operation, WalletLock
from ledger.verification import TITLES
from ledger.verification import verify_ledger as verify_ledger_only
from vaults.models import AVENIR_CODE, ReleaseTrigger, Vault, VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.admin import money_fingerprint
from vaults.tests.support.stack import ROOT, subprocess_env
from vaults.verification import LOTS_CHECK, verify_ledger

CHECKS = [*TITLES, LOTS_CHECK]


def run_command(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_ledger", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def failing(result) -> dict[str, int]:
    return {check.name: check.violations for check in result.checks if not check.ok}


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, list(params))


def some_history() -> list:
    """Deposits of two users, one released by a real run, one pending."""
    today = utc_today()
    released = DepositFactory(release_day=today)
    pending = DepositFactory(release_day=today + timedelta(days=30))
    release_matured_lots(currency="AED", trigger=ReleaseTrigger.CLI, actor="test")
    return [released, pending]


@pytest.mark.django_db
def test_a_clean_ledger_passes_every_check_with_exit_0(avenir):
    some_history()

    result = verify_ledger()

    assert result.ok and result.exit_code == 0 and result.violations == 0
    assert [check.name for check in result.checks] == CHECKS
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.currency = "EUR"  # a frozen dataclass
    code, out = run_command("--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True and doc["exit_code"] == 0
    assert [(c["name"], c["ok"], c["violations"], c["examples"]) for c in doc["checks"]] == [
        (name, True, 0, []) for name in CHECKS
    ]
    code, text = run_command()
    assert code == 0 and "clean" in text and all(name in text for name in CHECKS)


@pytest.mark.django_db
def test_an_empty_database_is_clean(avenir):
    assert verify_ledger().ok and verify_ledger(currency="EUR").ok


@pytest.mark.django_db
def test_a_corrupted_balance_is_named_with_exit_1(avenir):
    deposit = some_history()[1]
    user_id = VestingLot.objects.get(pk=deposit.lot_id).user_id
    account = Account.objects.get(owner_id=user_id, kind=AccountKind.WALLET_AVAILABLE)
    # Balances may change with raw SQL (only entries and operations are immutable).
    sql("UPDATE ledger_accounts SET balance = balance + 1.50 WHERE id = %s", [account.pk])

    code, out = run_command("--json")

    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False and doc["exit_code"] == 1 and doc["violations"] == 1
    (bad,) = [c for c in doc["checks"] if not c["ok"]]
    assert (bad["name"], bad["violations"]) == ("account_balances", 1)
    (example,) = bad["examples"]
    assert example["account_id"] == account.pk and example["kind"] == "WALLET_AVAILABLE"
    assert (example["balance"], example["entries_total"]) == ("1.50", "0.00")  # amounts as strings
    assert f"account {account.pk} " in example["detail"]


@pytest.mark.django_db
def test_an_unbalanced_operation_is_named(avenir):
    deposit = some_history()[1]
    user_id = VestingLot.objects.get(pk=deposit.lot_id).user_id
    available = Account.objects.get(owner_id=user_id, kind=AccountKind.WALLET_AVAILABLE)
    # The statement trigger refuses an unbalanced INSERT: disabled for this one row (the test's
    # transaction is rolled back, trigger state included).
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses to run with deferred checks pending
    sql("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_checked_per_statement")
    sql(
        "INSERT INTO ledger_entries (operation_id, account_id, currency, amount) VALUES (%s, %s, 'AED', 5)",
        [deposit.operation_id, available.pk],
    )
    sql("UPDATE ledger_accounts SET balance = balance + 5 WHERE id = %s", [available.pk])  # the balance follows
    sql("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_checked_per_statement")

    result = verify_ledger()

    assert failing(result) == {"operations_balanced": 1}
    (example,) = result.check("operations_balanced").examples
    assert example.values["operation_id"] == str(deposit.operation_id)
    assert (example.values["entries_total"], example.values["entry_count"]) == ("5.00", 3)


@pytest.mark.django_db
def test_locks_against_the_locked_balance_and_the_lots(avenir):
    deposit = some_history()[1]
    user_id = VestingLot.objects.get(pk=deposit.lot_id).user_id
    WalletLock.objects.filter(pk=deposit.lock_id).update(amount=Decimal("9999.99"))

    result = verify_ledger()

    assert failing(result) == {"locked_balances_match_locks": 1, LOTS_CHECK: 1}
    (locked,) = result.check("locked_balances_match_locks").examples
    assert locked.values["owner_id"] == user_id
    assert (locked.values["locked_balance"], locked.values["active_locks"]) == ("10000.00", "9999.99")
    (lots,) = result.check(LOTS_CHECK).examples
    assert (lots.values["user_id"], lots.values["unreleased_lots"], lots.values["active_locks"]) == (
        user_id,
        "10000.00",
        "9999.99",
    )
    # The ledger alone (no vaults check) sees only its own invariant.
    assert failing(verify_ledger_only()) == {"locked_balances_match_locks": 1}


@pytest.mark.django_db
def test_a_lot_that_no_longer_matches_its_lock(avenir):
    deposit = some_history()[1]
    user_id = VestingLot.objects.get(pk=deposit.lot_id).user_id
    VestingLot.objects.filter(pk=deposit.lot_id).update(amount=Decimal("12000.00"))

    result = verify_ledger()

    assert failing(result) == {LOTS_CHECK: 1}  # the ledger itself is consistent
    (example,) = result.check(LOTS_CHECK).examples
    assert example.values == {
        "user_id": user_id,
        "currency": "AED",
        "active_locks": "10000.00",
        "active_lock_count": 1,
        "unreleased_lots": "12000.00",
        "unreleased_lot_count": 1,
    }
    assert verify_ledger_only().ok


@pytest.mark.django_db
def test_negative_wallet_counts_are_exact_and_examples_capped(avenir):
    deposits = [DepositFactory(release_day=utc_today() + timedelta(days=5)) for _ in range(3)]
    users = [VestingLot.objects.get(pk=d.lot_id).user_id for d in deposits]
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses to run with deferred checks pending
    sql("ALTER TABLE ledger_accounts DROP CONSTRAINT account_user_wallet_balance_non_negative")
    sql(
        "UPDATE ledger_accounts SET balance = -1 WHERE kind = 'WALLET_AVAILABLE' AND owner_id = ANY(%s)",
        [users],
    )

    result = verify_ledger(max_examples=2)

    assert failing(result) == {"user_wallets_non_negative": 3, "account_balances": 3}
    assert len(result.check("user_wallets_non_negative").examples) == 2
    code, out = run_command("--max-examples", "1")
    assert code == 1 and "... 2 more" in out


@pytest.mark.django_db
def test_one_currency_only(avenir):
    Vault.objects.create(code=AVENIR_CODE, currency="EUR", product_label="COFFRE AVENIR", vesting_days=365)
    aed = DepositFactory(release_day=utc_today() + timedelta(days=3))
    DepositFactory(currency="EUR", release_day=utc_today() + timedelta(days=3))
    sql("UPDATE wallet_locks SET amount = 1 WHERE id = %s", [aed.lock_id])

    assert not verify_ledger(currency="AED").ok
    eur = verify_ledger(currency="EUR")
    assert eur.ok and eur.currency == "EUR"
    assert run_command("--currency", "eur")[0] == 0
    assert run_command("--currency", "AED")[0] == 1


@pytest.mark.django_db
def test_an_unknown_currency_is_refused_before_any_query(avenir):
    with pytest.raises(UnknownCurrency):
        verify_ledger(currency="XXX")
    assert run_command("--currency", "XXX")[0] == 2
    assert run_command("--max-examples", "-1")[0] == 2


@pytest.mark.django_db(transaction=True)
def test_the_command_in_a_real_process_exit_codes_and_nothing_changed(avenir):
    deposit = some_history()[1]
    env = subprocess_env()

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "verify_ledger", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    before = money_fingerprint()
    clean = manage()
    assert clean.returncode == 0, clean.stderr
    bad_currency = manage("--currency", "XXX", "--json")
    assert bad_currency.returncode == 2 and bad_currency.stdout == ""
    assert len(bad_currency.stderr.strip().splitlines()) == 1 and "XXX" in bad_currency.stderr
    assert money_fingerprint() == before  # read only

    locked = Account.objects.get(owner_id=VestingLot.objects.get(pk=deposit.lot_id).user_id, kind="WALLET_LOCKED")
    sql("UPDATE ledger_accounts SET balance = balance - 100 WHERE id = %s", [locked.pk])
    broken = manage("--json")
    assert broken.returncode == 1, broken.stderr
    doc = json.loads(broken.stdout)
    names = {c["name"]: c for c in doc["checks"] if not c["ok"]}
    assert set(names) == {"account_balances", "locked_balances_match_locks"}
    assert names["account_balances"]["examples"][0]["account_id"] == locked.pk
    assert names["locked_balances_match_locks"]["examples"][0]["account_id"] == locked.pk
    assert Operation.objects.count() and LedgerEntry.objects.count()  # nothing was touched by the checks
