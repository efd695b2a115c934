"""The lock audit selector (vaults.selectors.lock_audit) and `manage.py audit_avenir_locks`, on PostgreSQL."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from benchmarks.audit_benchmark import seed_audit_data
from vaults.models import ReleaseTrigger
from vaults.selectors import lock_audit as audit
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.admin import seed_every_inconsistency


def run_command(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("audit_avenir_locks", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def lot_ids(report, kind: str) -> set[int]:
    return {finding.lot_id for finding in report.group(kind).findings}


def lock_ids(report, kind: str) -> set[int]:
    return {finding.lock_id for finding in report.group(kind).findings}


@pytest.mark.django_db
def test_consistent_data_has_no_finding_and_exit_code_0(avenir):
    today = utc_today()
    DepositFactory(release_day=today)
    DepositFactory(release_day=today + timedelta(days=10))
    release_matured_lots(currency="AED", trigger=ReleaseTrigger.CLI, actor="test")

    report = audit.audit_avenir_locks()
    assert report.consistent and report.total == 0 and report.exit_code == 0
    code, out = run_command()
    assert code == 0 and "consistent" in out
    code, out = run_command("--json")
    doc = json.loads(out)
    assert (code, doc["consistent"], doc["total_findings"], doc["exit_code"]) == (0, True, 0, 0)


@pytest.mark.django_db
def test_every_kind_of_inconsistency_is_found(avenir):
    s = seed_every_inconsistency()

    report = audit.audit_avenir_locks()

    assert not report.consistent
    assert lot_ids(report, audit.RELEASED_LOT_ACTIVE_LOCK) == {s.released_lot}
    assert lock_ids(report, audit.RELEASED_LOT_ACTIVE_LOCK) == {s.released_lot_lock}
    assert lot_ids(report, audit.UNRELEASED_LOT_LOCK_MISSING) == {s.missing_lock_lot}
    assert lot_ids(report, audit.UNRELEASED_LOT_LOCK_RELEASED) == {s.released_lock_lot}
    assert lock_ids(report, audit.UNRELEASED_LOT_LOCK_RELEASED) == {s.released_lock}
    # The legacy locks are not orphans: the fallback links them (reported below).
    assert lock_ids(report, audit.ORPHAN_ACTIVE_LOCK) == {s.orphan_lock}
    fallback = report.group(audit.FALLBACK_ONLY_LINK).findings
    assert [(f.lot_id, f.candidate_lock_ids) for f in fallback] == [(s.fallback_lot, (s.fallback_lock,))]
    ambiguous = {f.lot_id: f.candidate_lock_ids for f in report.group(audit.AMBIGUOUS_FALLBACK_LINK).findings}
    assert ambiguous == {lot: s.ambiguous_locks for lot in s.ambiguous_lots}  # both locks, oldest first
    balance_users = {f.user_id for f in report.group(audit.LOCKED_BALANCE_MISMATCH).findings}
    assert s.balance_user in balance_users
    drift = next(f for f in report.group(audit.LOCKED_BALANCE_MISMATCH).findings if f.user_id == s.balance_user)
    assert (str(drift.locked_balance), str(drift.active_locks), str(drift.unreleased_lots)) == (
        "10000.00",
        "10000.50",
        "10000.00",
    )
    # Every kind is present, and the counts are the lengths (nothing truncated here).
    assert all(group.count == len(group.findings) > 0 for group in report.groups), [
        (g.kind, g.count) for g in report.groups
    ]


@pytest.mark.django_db
def test_command_reports_the_same_findings_and_exits_1(avenir):
    s = seed_every_inconsistency()
    report = audit.audit_avenir_locks()

    code, out = run_command("--currency", "AED", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["exit_code"] == 1 and doc["consistent"] is False
    assert doc["counts"] == {group.kind: group.count for group in report.groups}
    assert doc["total_findings"] == report.total
    released = doc["findings"][audit.RELEASED_LOT_ACTIVE_LOCK]
    assert released == [
        {
            "kind": audit.RELEASED_LOT_ACTIVE_LOCK,
            "currency": "AED",
            "user_id": released[0]["user_id"],
            "lot_id": s.released_lot,
            "lock_id": s.released_lot_lock,
            "amount": "10000.00",
            "detail": released[0]["detail"],
        }
    ]

    code, out = run_command()
    assert code == 1
    for kind in audit.KINDS:
        assert kind in out


@pytest.mark.django_db
def test_currency_filter_and_bad_usage(avenir):
    seed_every_inconsistency()
    assert audit.audit_avenir_locks(currency="EUR").consistent  # every seeded case is AED
    assert run_command("--currency", "EUR")[0] == 0
    assert run_command("--currency", "XYZ")[0] == 2


@pytest.mark.django_db
def test_max_items_truncates_the_list_but_not_the_count(avenir):
    seed_every_inconsistency()
    report = audit.audit_avenir_locks(max_items=1)
    ambiguous = report.group(audit.AMBIGUOUS_FALLBACK_LINK)
    assert ambiguous.count == 2 and len(ambiguous.findings) == 1 and ambiguous.truncated
    assert not report.group(audit.ORPHAN_ACTIVE_LOCK).truncated


# --- speed: 100,000 lots -------------------------------------------------------


@pytest.mark.django_db
def test_audit_of_100000_lots_finds_exactly_the_injected_inconsistencies(avenir, admin_client):
    """At scale, through the selector, the page and the command. Its speed is measured by
    benchmarks/audit_benchmark.py (scripts/bench.sh audit), not asserted here."""
    with connection.cursor() as cursor:
        seed_audit_data(cursor, vault_id=avenir.pk, users=2000, lots=100_000, inconsistencies=True)
        cursor.execute("SELECT COUNT(*) FROM vault_vesting_lots")
        assert cursor.fetchone()[0] == 100_000

    report = audit.audit_avenir_locks()

    assert report.group(audit.RELEASED_LOT_ACTIVE_LOCK).count == 2
    assert report.group(audit.FALLBACK_ONLY_LINK).count == 1
    assert report.group(audit.LOCKED_BALANCE_MISMATCH).count == 2  # the owners of the re-activated locks
    assert report.total == 5
    response = admin_client.get("/admin/vaults/vestinglot/audit/")
    assert response.status_code == 200 and b"RELEASED_LOT_ACTIVE_LOCK" in response.content
    code, _ = run_command("--json")
    assert code == 1
