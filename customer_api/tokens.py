"""API tokens (django-rest-knox): issue, list, revoke. Used by the api_token command; the
admin (customer_api/admin.py) applies the same lifetime bounds to the expiry it takes.

knox stores only a hash of each token (the clear token is shown once, at creation)
and its `token_key`, the first characters, which identify it in listings.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings

from customer_api.exceptions import ApiTokenError

# Every token expires, within a year: a leaked one stops working on its own.
MIN_TTL = timedelta(hours=1)
MAX_TTL = timedelta(days=365)
MIN_TTL_HOURS = MIN_TTL // timedelta(hours=1)
MAX_TTL_HOURS = MAX_TTL // timedelta(hours=1)  # 8760


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the clear token: shown once, never stored
    token_key: str
    expiry: datetime


@dataclass(frozen=True)
class TokenInfo:
    token_key: str
    created: datetime
    expiry: datetime | None
    expired: bool


def _user(username: str):
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        raise ApiTokenError(f"unknown user {username!r}")
    return user


def create_api_token(*, username: str, ttl: timedelta | None = None) -> IssuedToken:
    """A new token for the user, valid for `ttl` (default: REST_KNOX TOKEN_TTL), 1 hour..365 days."""
    ttl = knox_settings.TOKEN_TTL if ttl is None else ttl
    if ttl is None or not MIN_TTL <= ttl <= MAX_TTL:
        raise ApiTokenError(f"the token lifetime must be between {MIN_TTL_HOURS} hour and {MAX_TTL.days} days")
    user = _user(username)
    if not user.is_active:
        raise ApiTokenError(f"user {username!r} is inactive")
    instance, token = AuthToken.objects.create(user=user, expiry=ttl)
    return IssuedToken(token=token, token_key=instance.token_key, expiry=instance.expiry)


def list_api_tokens(*, username: str) -> list[TokenInfo]:
    now = timezone.now()
    tokens = AuthToken.objects.filter(user=_user(username)).order_by("created")
    return [
        TokenInfo(
            token_key=t.token_key,
            created=t.created,
            expiry=t.expiry,
            expired=t.expiry is not None and t.expiry < now,
        )
        for t in tokens
    ]


@transaction.atomic
def revoke_api_tokens(*, username: str, token_key: str | None = None) -> int:
    """Delete one token (by its key) or, with token_key None, all of the user's tokens.
    Returns how many were revoked."""
    tokens = AuthToken.objects.filter(user=_user(username))
    if token_key is not None:
        tokens = tokens.filter(token_key=token_key)
    deleted, _ = tokens.delete()
    if token_key is not None and deleted == 0:
        raise ApiTokenError(f"user {username!r} has no token with key {token_key!r}")
    return deleted
