"""Helpers shared by the customer API tests: the endpoint, Bearer clients, paging."""

from datetime import timedelta

from knox.models import AuthToken
from rest_framework.test import APIClient

URL = "/api/v1/transactions"


def issue_token(user, *, ttl: timedelta = timedelta(hours=1)) -> str:
    _, token = AuthToken.objects.create(user=user, expiry=ttl)
    return token


def bearer_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user)}")
    return client


def get_all_pages(client: APIClient, *, limit: int, **params) -> list[dict]:
    """Follow `next` to the end; fails on a loop instead of hanging."""
    items, cursor = [], None
    for _ in range(1000):
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        response = client.get(URL, query)
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")
