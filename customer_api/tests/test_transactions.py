"""GET /api/v1/transactions: content, filters, pagination and isolation, on PostgreSQL."""

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customer_api.pagination import encode_cursor
from customer_api.selectors import HistoryCursor
from customer_api.tests.support.api import URL, bearer_client, get_all_pages
from ledger.models import Operation
from ledger.services.funding import fund_wallet
from ledger.tests.factories import FundingFactory, UserFactory
from vaults.models import VestingLot
from vaults.services.release import release_matured_lots, utc_today
from vaults.services.reversal import reverse_releases
from vaults.tests.factories import DepositFactory

ITEM_FIELDS = {
    "id",
    "operation_type",
    "product_label",
    "direction",
    "amount_display",
    "currency",
    "created_at",
    "lot_id",
}


def at(day: date, hour: int = 12, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, second, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_runbook_example_release_appears_as_in_with_coffre_avenir_label(avenir):
    """The runbook's curl | jq check, after a real release run."""
    today = utc_today()
    user = UserFactory()
    deposit = DepositFactory(user=user, release_day=today)
    summary = release_matured_lots(currency="AED", as_of=today)
    assert summary.executed_count == 1

    response = bearer_client(user).get(f"{URL}?limit=50")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"items", "next"} and body["next"] is None
    releases = [i for i in body["items"] if i["operation_type"] == "VAULT_VESTING_RELEASE"]
    assert len(releases) == 1
    release = releases[0]
    assert set(release) == ITEM_FIELDS
    assert release["product_label"] == "COFFRE AVENIR"
    assert release["direction"] == "IN"
    assert release["amount_display"] == "10000.00"
    assert release["currency"] == "AED"
    assert release["lot_id"] == deposit.lot_id
    assert release["created_at"].endswith("Z")
    created = datetime.fromisoformat(release["created_at"])
    assert created.utcoffset() == timedelta(0)
    operation = Operation.objects.get(pk=release["id"])
    assert operation.created_at == created
    # Newest first: release, then the deposit (OUT of the available wallet), then the funding.
    assert [(i["operation_type"], i["direction"], i["product_label"], i["lot_id"]) for i in body["items"]] == [
        ("VAULT_VESTING_RELEASE", "IN", "COFFRE AVENIR", deposit.lot_id),
        ("VAULT_DEPOSIT", "OUT", "COFFRE AVENIR", deposit.lot_id),
        ("FUNDING", "IN", "Wallet funding", None),
    ]
    # Internal fields never leak: not the trace id, not the account ids, not the metadata.
    raw = response.content.decode()
    assert "trace_id" not in raw and summary.trace_id not in raw
    assert "account" not in raw and "metadata" not in raw and "idempotency" not in raw


@pytest.mark.django_db(transaction=True)
def test_a_reversal_and_the_release_again_after_it_are_listed_with_their_lot(avenir):
    """A mistaken release taken back: the reversal is OUT of the available wallet, with the
    vault's label and the lot; the lot's next release is listed as well, each once."""
    today = utc_today()
    user = UserFactory()
    deposit = DepositFactory(user=user, release_day=today)
    release_matured_lots(currency="AED", as_of=today)
    reverse_releases(lot_ids=[deposit.lot_id], reason="wrong day", release_day=today + timedelta(days=1))
    VestingLot.objects.filter(pk=deposit.lot_id).update(release_day=today)  # its new day comes
    release_matured_lots(currency="AED", as_of=today)

    body = bearer_client(user).get(f"{URL}?limit=50").json()

    assert [(i["operation_type"], i["direction"], i["product_label"], i["lot_id"]) for i in body["items"]] == [
        ("VAULT_VESTING_RELEASE", "IN", "COFFRE AVENIR", deposit.lot_id),
        ("VAULT_VESTING_RELEASE_REVERSAL", "OUT", "COFFRE AVENIR", deposit.lot_id),
        ("VAULT_VESTING_RELEASE", "IN", "COFFRE AVENIR", deposit.lot_id),
        ("VAULT_DEPOSIT", "OUT", "COFFRE AVENIR", deposit.lot_id),
        ("FUNDING", "IN", "Wallet funding", None),
    ]
    assert all(i["amount_display"] == "10000.00" for i in body["items"][:4])
    assert "wrong day" not in json.dumps(body)  # the operator's reason is not the customer's


@pytest.mark.django_db
def test_amount_display_has_currency_minor_units_and_is_a_string(avenir):
    user = UserFactory()
    FundingFactory(user=user, amount=Decimal("7"), at=at(date(2024, 1, 1)))
    FundingFactory(user=user, amount=Decimal("0.5"), at=at(date(2024, 1, 2)))

    items = bearer_client(user).get(URL).json()["items"]

    assert [i["amount_display"] for i in items] == ["0.50", "7.00"]


@pytest.mark.django_db
def test_one_query_for_the_page_whatever_its_size(avenir):
    """No N+1: lots, labels and directions come with the page query."""
    few, many = UserFactory(), UserFactory()
    DepositFactory(user=few, release_day=date(2030, 1, 1))
    for n in range(15):
        DepositFactory(user=many, release_day=date(2030, 1, 1), seconds=n)
    counts = []
    for user, expected in ((few, 2), (many, 30)):
        client = bearer_client(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, {"limit": 200})
        assert len(response.json()["items"]) == expected
        assert all(i["lot_id"] is not None for i in response.json()["items"] if i["operation_type"] != "FUNDING")
        assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_page_query_walks_the_user_created_id_index_without_sorting(avenir):
    user = UserFactory()
    for n in range(3):
        FundingFactory(user=user, at=at(date(2024, 1, 1), second=n))
    client = bearer_client(user)
    first = client.get(URL, {"limit": 1}).json()
    with CaptureQueriesContext(connection) as queries:
        client.get(URL, {"limit": 1, "cursor": first["next"], "operation_type": "FUNDING"})
    page_sql = next(q["sql"] for q in queries.captured_queries if 'FROM "operations"' in q["sql"])
    with connection.cursor() as cursor:
        # A tiny table, and statistics left by earlier tests: take cost out of the question and
        # ask only whether an index gives this page in order, so no Sort is needed.
        for switch in ("enable_seqscan", "enable_bitmapscan", "enable_sort", "enable_incremental_sort"):
            cursor.execute(f"SET LOCAL {switch} = off")
        cursor.execute(f"EXPLAIN {page_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    top = plan.splitlines()[0:3]
    assert "operations_user_created_id" in plan, plan
    assert not any("Sort" in line for line in top), plan


@pytest.mark.django_db
def test_operation_type_filter(avenir):
    user = UserFactory()
    DepositFactory(user=user, release_day=date(2030, 1, 1))
    FundingFactory(user=user)
    client = bearer_client(user)

    for operation_type, expected in (("FUNDING", 2), ("VAULT_DEPOSIT", 1), ("VAULT_VESTING_RELEASE", 0)):
        items = client.get(URL, {"operation_type": operation_type}).json()["items"]
        assert len(items) == expected
        assert {i["operation_type"] for i in items} <= {operation_type}


@pytest.mark.django_db
def test_date_range_bounds_are_inclusive_utc_days(avenir):
    user = UserFactory()
    days = [date(2024, 3, d) for d in (1, 2, 3, 4)]
    for day in days:
        FundingFactory(user=user, at=datetime(day.year, day.month, day.day, 0, 0, 0, tzinfo=UTC))
        FundingFactory(user=user, at=datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=UTC))
    client = bearer_client(user)

    def created_days(**params) -> list[str]:
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return [i["created_at"][:10] for i in response.json()["items"]]

    assert created_days(created_from="2024-03-02", created_to="2024-03-03") == ["2024-03-03"] * 2 + ["2024-03-02"] * 2
    assert created_days(created_from="2024-03-04") == ["2024-03-04"] * 2
    assert created_days(created_to="2024-03-01") == ["2024-03-01"] * 2
    assert created_days(created_from="2024-03-02", created_to="2024-03-02") == ["2024-03-02"] * 2
    # ISO datetimes are exact instants; a naive one is UTC, an offset is honoured.
    assert created_days(created_from="2024-03-02T12:00:00Z", created_to="2024-03-03T00:00:00") == [
        "2024-03-03",
        "2024-03-02",
    ]
    # 01:59:59.999999 at +02:00 is the last microsecond of March 2 in UTC.
    instant = "2024-03-03T01:59:59.999999+02:00"
    assert created_days(created_from=instant, created_to=instant) == ["2024-03-02"]
    assert created_days(created_from="2025-01-01") == []


@pytest.mark.django_db
def test_pages_cover_everything_once_in_order_even_with_equal_timestamps(avenir):
    """The (created_at, id) cursor: ties on created_at are broken by id, nothing lost or repeated."""
    user = UserFactory()
    same = at(date(2024, 5, 1))
    for n in range(5):
        fund_wallet(user_id=user.pk, currency="AED", amount="1.00", idempotency_key=f"tie-{n}", at=same)
    for n in range(4):
        fund_wallet(
            user_id=user.pk, currency="AED", amount="1.00", idempotency_key=f"old-{n}", at=same - timedelta(n + 1)
        )
    client = bearer_client(user)
    expected = [i["id"] for i in client.get(URL, {"limit": 200}).json()["items"]]
    db_order = [
        str(pk)
        for pk in Operation.objects.filter(user=user).order_by("-created_at", "-id").values_list("id", flat=True)
    ]
    assert expected == db_order and len(expected) == 9

    for limit in (1, 2, 3, 9):
        assert [i["id"] for i in get_all_pages(client, limit=limit)] == expected
    # A page that ends exactly at the last item has no next page (no empty trailing page).
    body = client.get(URL, {"limit": 9}).json()
    assert len(body["items"]) == 9 and body["next"] is None


@pytest.mark.django_db
def test_pagination_is_stable_while_new_operations_arrive(avenir):
    user = UserFactory()
    for n in range(6):
        FundingFactory(user=user, at=at(date(2024, 6, 1), second=n))
    client = bearer_client(user)
    before = [i["id"] for i in client.get(URL, {"limit": 200}).json()["items"]]

    seen, cursor, arrived = [], None, []
    while True:
        body = client.get(URL, {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
        # Another operation lands between two page requests (now: newer than everything).
        arrived.append(str(FundingFactory(user=user).operation_id))

    assert seen == before  # no duplicate, no gap, same order
    assert not set(arrived) & set(seen)
    # The new operations are on a fresh first page.
    assert [i["id"] for i in client.get(URL, {"limit": len(arrived)}).json()["items"]] == arrived[::-1]


@pytest.mark.django_db
def test_cursor_keeps_the_filters_it_is_used_with(avenir):
    user = UserFactory()
    for n in range(3):
        DepositFactory(user=user, release_day=date(2030, 1, 1), seconds=n)
    client = bearer_client(user)
    deposits = get_all_pages(client, limit=1, operation_type="VAULT_DEPOSIT")
    assert [i["operation_type"] for i in deposits] == ["VAULT_DEPOSIT"] * 3


@pytest.mark.django_db
def test_two_users_never_see_each_other_whatever_the_parameters(avenir):
    alice, bob = UserFactory(), UserFactory()
    for user in (alice, bob):
        DepositFactory(user=user, release_day=date(2030, 1, 1))
        FundingFactory(user=user, at=at(date(2024, 1, 1)))
    own = {
        user.pk: {str(pk) for pk in Operation.objects.filter(user=user).values_list("id", flat=True)}
        for user in (alice, bob)
    }
    clients = {alice.pk: bearer_client(alice), bob.pk: bearer_client(bob)}
    # A cursor pointing into the other user's history, and one past everything.
    bob_page = clients[bob.pk].get(URL, {"limit": 1}).json()
    far_future = encode_cursor(HistoryCursor(created_at=datetime(9999, 1, 1, tzinfo=UTC), id=uuid.UUID(int=2**128 - 1)))
    param_sets = [
        {},
        {"limit": 200},
        {"operation_type": "FUNDING"},
        {"operation_type": "VAULT_DEPOSIT"},
        {"created_from": "2000-01-01", "created_to": "2100-01-01"},
        {"cursor": bob_page["next"]},
        {"cursor": far_future, "limit": 200},
        {"user": bob.pk, "user_id": bob.pk, "owner": bob.pk},  # unknown parameters are ignored
    ]
    for user in (alice, bob):
        for params in param_sets:
            ids = {i["id"] for i in get_all_pages(clients[user.pk], limit=params.pop("limit", 50), **params)}
            assert ids <= own[user.pk], params
    assert {i["id"] for i in get_all_pages(clients[alice.pk], limit=1)} == own[alice.pk]
    assert {i["id"] for i in get_all_pages(clients[bob.pk], limit=1)} == own[bob.pk]


@pytest.mark.django_db
def test_limit_bounds_are_accepted(avenir):
    user = UserFactory()
    for n in range(3):
        FundingFactory(user=user, at=at(date(2024, 1, 1), second=n))
    client = bearer_client(user)
    assert len(client.get(URL, {"limit": 1}).json()["items"]) == 1
    assert len(client.get(URL, {"limit": 200}).json()["items"]) == 3
    assert len(client.get(URL).json()["items"]) == 3  # default 50


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_INPUT = [
    ("limit", "0"),
    ("limit", "201"),
    ("limit", "-1"),
    ("limit", "99999999999999999999999"),
    ("limit", "abc"),
    ("limit", "1.5"),
    ("limit", "50.0"),
    ("limit", " 50"),
    ("limit", "5e1"),
    ("limit", ""),
    ("operation_type", "FOO"),
    ("operation_type", "funding"),
    ("operation_type", ""),
    ("created_from", "2025-13-01"),
    ("created_from", "2025-02-30"),
    ("created_from", "yesterday"),
    ("created_from", "20250127"),
    ("created_from", "2025-01-27T25:00:00Z"),
    ("created_from", ""),
    ("created_to", "27/01/2025"),
    ("created_to", "2025-1-27"),
    ("cursor", "!!!"),
    ("cursor", "abc"),
    ("cursor", ""),
    ("cursor", "x" * 500),
    ("cursor", _b64(b"not json")),
    ("cursor", _b64(json.dumps(["yesterday", str(uuid.uuid4())]).encode())),
    ("cursor", _b64(json.dumps(["2025-01-27T00:05:00", str(uuid.uuid4())]).encode())),  # naive
    ("cursor", _b64(json.dumps(["2025-01-27T00:05:00+00:00", "not-a-uuid"]).encode())),
    ("cursor", _b64(json.dumps({"a": 1}).encode())),
    # Odd input: none of it may reach the database or end in a 500.
    ("limit", "99999999999999999999"),
    ("limit", "\u00b2"),  # superscript two: a digit to str.isdigit(), not to int()
    ("limit", "\u0665\u0660"),  # Arabic-Indic "50": int() would take it
    ("limit", "\uff15\uff10"),  # fullwidth "50"
    ("limit", "5\x00"),
    ("operation_type", "\u00b2"),
    ("operation_type", "FUNDING\x00"),
    ("created_from", "\u00b2"),
    ("created_from", "2025-01-27T00:00:0\u0665"),  # parse_datetime's \d takes non-ASCII digits
    ("created_from", "2025-01-27\x00"),
    ("created_from", "9999-12-31T23:59:59-23:59"),  # past datetime.max once in UTC
    ("created_to", "0001-01-01T00:00:00+23:59"),  # before datetime.min once in UTC
    ("created_to", "2025-01-27T00:00:00\x00"),
    ("created_to", "2025-01-27T00:00:00\n"),
    ("created_to", "2025-01-27T00:00:00 "),
    ("cursor", "garbage"),
    ("cursor", "\u00b2"),
    ("cursor", "\x00"),
    ("cursor", _b64(b"\xff\xfe\x00")),
    ("cursor", _b64(b"1e999999")),
    ("cursor", _b64(b"[" * 100)),
    ("cursor", _b64(json.dumps([1, 2]).encode())),
    ("cursor", _b64(json.dumps(["2025-01-27T00:05:00+00:00", str(uuid.uuid4()), "extra"]).encode())),
    ("cursor", _b64(json.dumps(["9999-12-31T23:59:59-23:59", str(uuid.uuid4())]).encode())),
    ("cursor", _b64(json.dumps(["0001-01-01T00:00:00+23:59", str(uuid.uuid4())]).encode())),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("parameter", "value"), BAD_INPUT)
def test_bad_input_is_a_400_naming_the_parameter(avenir, parameter, value):
    user = UserFactory()
    FundingFactory(user=user)

    response = bearer_client(user).get(URL, {parameter: value})

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "invalid_parameter"
    assert list(body["parameters"]) == [parameter]
    assert parameter in body["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"q": "\u00b2"},  # not a parameter of this endpoint: ignored, like any unknown one
        {"\u00b2": "\u00b2", "limit\x00": "1"},
        {"created_from": "0001-01-01", "created_to": "9999-12-31"},  # the extremes PostgreSQL is given
        {"created_from": "0001-01-01T00:00:00Z", "created_to": "9999-12-31T23:59:59.999999Z"},
        {"limit": "200", "limit ": "0"},
    ],
)
def test_odd_but_valid_queries_are_served(avenir, query):
    user = UserFactory()
    FundingFactory(user=user)

    response = bearer_client(user).get(URL, query)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert len(response.json()["items"]) == 1


@pytest.mark.django_db
def test_inverted_date_range_is_a_400(avenir):
    response = bearer_client(UserFactory()).get(URL, {"created_from": "2025-01-28", "created_to": "2025-01-27"})
    assert response.status_code == 400
    assert list(response.json()["parameters"]) == ["created_from"]


@pytest.mark.django_db
def test_several_bad_parameters_are_all_named(avenir):
    response = bearer_client(UserFactory()).get(URL, {"limit": "0", "operation_type": "X", "cursor": "?"})
    assert response.status_code == 400
    assert set(response.json()["parameters"]) == {"limit", "operation_type", "cursor"}


@pytest.mark.django_db
def test_only_get_is_allowed(avenir):
    response = bearer_client(UserFactory()).post(URL, {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
