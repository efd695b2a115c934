"""Two callers with the same idempotency key at the same moment: the unique index decides,
and the loser gets the winner's result instead of an error (real threads and connections)."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connections, transaction

from ledger.models import Operation, OperationType
from ledger.services.accounts import ensure_wallet_accounts
from ledger.services.posting import Leg, OperationSpec, post_operation
from ledger.tests.factories import FundingFactory, UserFactory
from ledger.verification import verify_ledger
from vaults.models import VestingLot
from vaults.services.deposit import deposit_to_vault
from vaults.tests.support.database import assert_invariants

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pooler]


def while_another_transaction_holds(write, then):
    """Run `write` in a thread whose transaction stays open ~1 s; meanwhile call `then`
    (which must block on the unique index until the thread commits)."""
    written, errors = threading.Event(), []

    def hold():
        try:
            with transaction.atomic():
                result = write()
                written.set()
                time.sleep(1.0)
            holder.append(result)
        except BaseException as exc:
            errors.append(exc)
            written.set()
        finally:
            connections.close_all()

    holder: list = []
    thread = threading.Thread(target=hold)
    thread.start()
    assert written.wait(10)
    started = time.monotonic()
    result = then()
    waited = time.monotonic() - started
    thread.join(10)
    assert not errors, errors
    return holder[0], result, waited


def test_concurrent_post_operation_with_one_key_posts_once(avenir):
    user = UserFactory()
    FundingFactory(user=user, amount=Decimal("100.00"))
    wallets = ensure_wallet_accounts(user_id=user.pk, currency="AED")
    spec = OperationSpec(
        type=OperationType.ADJUSTMENT,
        user_id=user.pk,
        currency="AED",
        amount=Decimal("40.00"),
        idempotency_key="same-key",
        legs=(Leg(wallets.available_id, Decimal("-40.00")), Leg(wallets.locked_id, Decimal("40.00"))),
    )

    (first, created_first), (second, created_second), waited = while_another_transaction_holds(
        lambda: post_operation(spec=spec), lambda: post_operation(spec=spec)
    )

    assert waited > 0.5  # it really met the other transaction at the unique index
    assert (created_first, created_second) == (True, False) and first.pk == second.pk
    assert Operation.objects.filter(idempotency_key="same-key").count() == 1
    result = verify_ledger()  # balances moved once (an ADJUSTMENT into WALLET_LOCKED has no lock: not checked)
    assert result.check("operations_balanced").ok and result.check("account_balances").ok


def test_concurrent_deposits_with_one_key_deposit_once(avenir):
    user = UserFactory()
    FundingFactory(user=user, amount=Decimal("10000.00"))

    def deposit():
        return deposit_to_vault(user_id=user.pk, vault=avenir, amount="10000.00", idempotency_key="dup-deposit")

    first, second, waited = while_another_transaction_holds(deposit, deposit)

    assert waited > 0.5
    assert (first.created, second.created) == (True, False)
    assert (first.operation_id, first.lot_id, first.lock_id) == (second.operation_id, second.lot_id, second.lock_id)
    assert VestingLot.objects.count() == 1
    assert_invariants()
