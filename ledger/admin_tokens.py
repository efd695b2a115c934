"""Admin for API tokens: knox's own AuthToken admin, made to always issue expiring tokens.

knox's add form lets the expiry be left blank, which creates a token that never
expires. Here the expiry is required, defaults to now + TOKEN_TTL and is capped like
the api_token command. The list shows token keys (never digests); a token cannot be
edited, only created (its clear value is shown once, in the confirmation message) or
deleted, which revokes it.

Loaded by `ledger/admin.py` (`from ledger import admin_tokens  # noqa: F401`).
"""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone
from knox.admin import AuthTokenAdmin, AuthTokenCreateForm
from knox.models import AuthToken
from knox.settings import knox_settings

from ledger.api.tokens import MAX_TTL


class ExpiringTokenCreateForm(AuthTokenCreateForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        expiry = self.fields["expiry"]
        expiry.required = True
        expiry.initial = lambda: timezone.now() + knox_settings.TOKEN_TTL
        expiry.help_text = f"Required: tokens always expire (at most {MAX_TTL.days} days from now)."

    def clean_expiry(self):
        expiry = self.cleaned_data["expiry"]
        now = timezone.now()
        if expiry <= now:
            raise ValidationError("The expiry must be in the future.")
        if expiry > now + MAX_TTL:
            raise ValidationError(f"The expiry must be at most {MAX_TTL.days} days from now.")
        return expiry


class ApiTokenAdmin(AuthTokenAdmin):
    add_form = ExpiringTokenCreateForm
    list_display = ("token_key", "user", "created", "expiry")
    list_select_related = ("user",)
    search_fields = ("token_key", "user__username")
    ordering = ("-created",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a token is created or revoked (deleted), never edited


if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)
admin.site.register(AuthToken, ApiTokenAdmin)
