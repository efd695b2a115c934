"""Admin for API tokens: knox's own AuthToken admin, made to always issue expiring tokens.

knox's add form lets the expiry be left blank, which creates a token that never
expires. Here the expiry is required, defaults to now + TOKEN_TTL and is bounded like
the api_token command (1 hour..365 days from now). The list shows token keys (never
digests); a token cannot be edited, only created (its clear value is shown once, on a
"copy this token now" page) or deleted, which revokes it.

knox's admin puts the clear token in a flash message, i.e. in the `messages` cookie,
which is signed but readable by anyone who sees the cookie. Here it is only ever in the
body of the one response to the creating POST, which is marked no-store.

Importing knox.admin registers knox's AuthTokenAdmin; this module then replaces it.
"""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from knox.admin import AuthTokenAdmin, AuthTokenCreateForm
from knox.models import AuthToken
from knox.settings import knox_settings

from customer_api.tokens import MAX_TTL, MIN_TTL


class ExpiringTokenCreateForm(AuthTokenCreateForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        expiry = self.fields["expiry"]
        expiry.required = True
        expiry.initial = lambda: timezone.now() + knox_settings.TOKEN_TTL
        expiry.help_text = f"Required: tokens always expire (1 hour to {MAX_TTL.days} days from now)."

    def clean_expiry(self):
        expiry = self.cleaned_data["expiry"]
        now = timezone.now()
        if expiry <= now:
            raise ValidationError("The expiry must be in the future.")
        if expiry < now + MIN_TTL:
            raise ValidationError("The expiry must be at least 1 hour from now.")
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

    def save_model(self, request: HttpRequest, obj: AuthToken, form, change: bool) -> None:
        # Skips knox's save_model, which would put the token in a message (a cookie).
        admin.ModelAdmin.save_model(self, request, obj, form, change)
        obj.clear_token = form.token  # only for response_add, on this instance of this request

    def response_add(self, request: HttpRequest, obj: AuthToken, post_url_continue=None) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Copy this token now",
            "opts": self.opts,
            "token": obj.clear_token,
            "token_object": obj,
        }
        request.current_app = self.admin_site.name
        response = TemplateResponse(request, "admin/knox/authtoken/token_created.html", context)
        add_never_cache_headers(response)  # no browser or proxy keeps the page with the token
        return response


if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)
admin.site.register(AuthToken, ApiTokenAdmin)
