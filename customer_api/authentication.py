"""Bearer authentication: knox's tokens, with the header checked before anything else.

knox decodes the token as UTF-8 and looks it up by its first characters: a byte that is not
UTF-8 would raise an unexpected error (a 500), and a NUL byte would reach PostgreSQL. A token
knox issued is always its prefix and a fixed number of hex digits, so anything else is refused
as "Invalid token." (401) before it is decoded, hashed or looked up.
"""

import re

from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication
from knox.settings import knox_settings
from rest_framework import exceptions


class BearerTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, token: bytes):
        if not re.fullmatch(token_shape(), token):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(token)


def token_shape() -> bytes:
    """What knox issues: TOKEN_PREFIX, then AUTH_TOKEN_CHARACTER_LENGTH lowercase hex digits."""
    prefix = re.escape(knox_settings.TOKEN_PREFIX.encode())
    return prefix + rb"[0-9a-f]{%d}" % knox_settings.AUTH_TOKEN_CHARACTER_LENGTH
