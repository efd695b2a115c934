"""Validation of the security-related environment, used by settings.py.

Kept out of settings.py so the rules can be read (and tested) on their own. Every
failure is an ImproperlyConfigured with a one-line message: manage.py prints it as
`error: ...` and exits 2, instead of a traceback.
"""

from django.core.exceptions import ImproperlyConfigured

MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5
# Values copied from examples and docs: never a real secret.
PLACEHOLDER_SECRET_KEYS = frozenset({"change-me", "changeme", "change_me", "secret", "your-secret-key"})
GENERATE_HINT = """generate one: python -c 'import secrets; print(secrets.token_urlsafe(50))'"""


def check_production_secret_key(key: str) -> None:
    """Refuse a key that is empty, a known placeholder, a dev-only key, or too weak to sign sessions.

    The length and variety thresholds are those of Django's own `check --deploy` (security.W009),
    so a key accepted here never makes that check warn.
    """
    lowered = key.strip().lower()
    if not lowered:
        problem = "is required"
    elif lowered in PLACEHOLDER_SECRET_KEYS or lowered.startswith(("insecure", "django-insecure")):
        problem = "is a placeholder"
    elif len(key) < MIN_SECRET_KEY_LENGTH:
        problem = f"is too short ({len(key)} characters, at least {MIN_SECRET_KEY_LENGTH})"
    elif len(set(key)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS:
        problem = f"has fewer than {MIN_SECRET_KEY_UNIQUE_CHARACTERS} distinct characters"
    else:
        return
    raise ImproperlyConfigured(f"DJANGO_SECRET_KEY {problem} when DJANGO_DEBUG is off; {GENERATE_HINT}")


def proxy_ssl_header(values: list[str]) -> tuple[str, str] | None:
    """`HTTP_X_FORWARDED_PROTO,https` -> ("HTTP_X_FORWARDED_PROTO", "https"); empty -> None.

    Only set it behind a proxy that always overwrites that header: otherwise a client
    could claim HTTPS by sending it.
    """
    if not values:
        return None
    if len(values) != 2 or not values[0].startswith("HTTP_") or not values[1]:
        raise ImproperlyConfigured(
            "DJANGO_SECURE_PROXY_SSL_HEADER must be '<HTTP_HEADER_NAME>,<value>', "
            f"e.g. HTTP_X_FORWARDED_PROTO,https (got {','.join(values)!r})"
        )
    return values[0], values[1]
