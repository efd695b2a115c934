"""The record of each ledger verification, which /metrics exports: written by the worker after
each real release and by `manage.py verify_ledger` (unless --no-record), refused by the
database when inconsistent, and never in the way of the verification's own result."""

import getpass
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from common.db import read_only_transaction
from ledger.models import Account
from vaults.models import LedgerVerificationRecord, VerificationTrigger, VestingLot
from vaults.services.release import utc_today
from vaults.services.verification_records import verify_and_record
from vaults.tasks import release_avenir_vesting
from vaults.tests.factories import DepositFactory


def verify_command(*args: str) -> int:
    try:
        call_command("verify_ledger", *args, stdout=StringIO())
    except CommandError as exc:
        return exc.returncode
    return 0


@pytest.mark.django_db
def test_the_command_records_each_verification_unless_told_not_to(avenir):
    deposit = DepositFactory(release_day=utc_today() + timedelta(days=3))
    assert verify_command("--currency", "AED") == 0
    clean = LedgerVerificationRecord.objects.get()
    assert (clean.currency, clean.ok, clean.violations, clean.failed_checks) == ("AED", True, 0, [])
    assert clean.trigger == VerificationTrigger.CLI and clean.actor == f"cli:{getpass.getuser()}"
    assert clean.checked_at is not None and clean.seconds >= 0

    locked = Account.objects.get(owner_id=VestingLot.objects.get(pk=deposit.lot_id).user_id, kind="WALLET_LOCKED")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_accounts SET balance = balance - 100 WHERE id = %s", [locked.pk])
    assert verify_command() == 1  # every currency
    broken = LedgerVerificationRecord.objects.order_by("-id").first()
    assert broken.currency == "" and not broken.ok and broken.violations == 2
    assert sorted(broken.failed_checks) == ["account_balances", "locked_balances_match_locks"]

    assert verify_command("--no-record") == 1
    assert verify_command("--currency", "XXX") == 2  # refused before anything is read or written
    assert LedgerVerificationRecord.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_worker_records_the_verification_after_each_real_release(avenir):
    DepositFactory(release_day=utc_today())
    summary = release_avenir_vesting.apply(kwargs={"currency": "AED"}).get()
    record = LedgerVerificationRecord.objects.get()
    assert record.trigger == VerificationTrigger.AFTER_RELEASE and record.actor == "celery"
    assert record.trace_id == summary["trace_id"] and record.currency == "AED" and record.ok

    release_avenir_vesting.apply(kwargs={"currency": "AED", "dry_run": True}).get()
    assert LedgerVerificationRecord.objects.count() == 1  # a dry run changes nothing: nothing to verify


@pytest.mark.django_db
def test_a_record_that_cannot_be_written_does_not_hide_the_result(avenir, caplog):
    """On a read-only replica (here: a READ ONLY transaction), the verification still answers."""
    with read_only_transaction():
        verification = verify_and_record(currency="AED", trigger=VerificationTrigger.CLI)
        assert verification.ok
    assert not LedgerVerificationRecord.objects.exists()
    assert "the ledger verification could not be recorded" in caplog.text


@pytest.mark.django_db
def test_the_database_refuses_an_inconsistent_record(avenir):
    for ok, violations in ((True, 2), (False, 0)):
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerVerificationRecord.objects.create(ok=ok, violations=violations, seconds=1, trigger="cli")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerVerificationRecord.objects.create(ok=True, violations=0, seconds=-1, trigger="cli")


@pytest.mark.django_db
def test_operators_see_the_history_in_the_admin_read_only(client, avenir):
    from ledger.tests.factories import UserFactory

    LedgerVerificationRecord.objects.create(
        currency="AED", ok=False, violations=2, failed_checks=["account_balances"], seconds=1.25, trigger="cli"
    )
    LedgerVerificationRecord.objects.create(ok=True, violations=0, seconds=0.5, trigger="after_release")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert ">Ledger verifications<" in client.get("/admin/").content.decode()
    page = client.get("/admin/vaults/ledgerverificationrecord/").content.decode()
    assert "Violations" in page and "Clean" in page and "account_balances" in page and ">all<" in page
    assert client.get("/admin/vaults/ledgerverificationrecord/add/").status_code == 403
