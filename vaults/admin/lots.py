"""The vesting lots list (columns chosen to fit 1366 px), its per-currency forecast summary, and
the unlock forecast page (/admin/vaults/vestinglot/forecast/?days=N)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from common.admin import short_id
from ledger.admin import ReadOnlyAdmin, money
from ledger.currencies import display_amount
from vaults.admin.lock_audit import LockAuditMixin
from vaults.admin.release_action import RELEASE_ACTION, ReleaseActionMixin
from vaults.models import VestingLot
from vaults.selectors import FORECAST_DAYS, MAX_FORECAST_DAYS, CurrencyForecast, unlock_forecast

OPERATION_CHANGE = "admin:ledger_operation_change"


def forecast_rows(forecast: CurrencyForecast) -> dict:
    """One currency's forecast as the templates show it: amounts with their currency."""
    currency = forecast.currency
    overdue = forecast.overdue
    return {
        "currency": currency,
        "today": forecast.today,
        "overdue": {
            "lot_count": overdue.lot_count,
            "amount": display_amount(overdue.amount, currency),
            "oldest_day": overdue.oldest_day,
        },
        "upcoming": [
            {"release_day": day.release_day, "lot_count": day.lot_count, "amount": display_amount(day.amount, currency)}
            for day in forecast.upcoming
        ],
    }


@admin.register(VestingLot)
class VestingLotAdmin(ReleaseActionMixin, LockAuditMixin, ReadOnlyAdmin):
    change_list_template = "admin/vaults/vestinglot/change_list.html"
    # At 1366 px beside the filters: the amount carries its currency; operation ids are short
    # (full value in the tooltip, linked to the operation). Everything else is on the lot's page.
    list_display = (
        "id",
        "user",
        money("amount"),
        "status",
        "release_day",
        "deposit_day",
        short_id("source_operation_id", description="deposit op", admin_url=OPERATION_CHANGE),
        short_id("last_release_operation_id", description="release op", admin_url=OPERATION_CHANGE),
    )
    list_filter = ("status", ("release_day", admin.DateFieldListFilter), "currency", "vault")
    list_select_related = ("user",)
    date_hierarchy = "release_day"
    ordering = ("release_day", "id")
    search_fields = ("id",)  # shows the search box; see ReadOnlyAdmin.get_search_results
    search_help_text = "Exact lot id, operation id (deposit or release), username or email."
    search_int_fields = ("id",)
    search_uuid_fields = ("source_operation_id", "last_release_operation_id")
    search_text_fields = ("user__username", "user__email")
    money_fields = {"amount": "currency", "released_amount": "currency"}
    actions = [RELEASE_ACTION]

    class Media:
        css = {"all": ["vaults/admin.css"]}

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if self.is_forged_release(request):
            raise PermissionDenied
        context = {
            # Compact, one row per currency; the full forecast has its own page.
            "unlock_forecast": [forecast_rows(f) for f in unlock_forecast(days=1)],
            "can_audit": self.has_audit_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def get_urls(self):
        urls = [
            path("forecast/", self.admin_site.admin_view(self.forecast_view), name="vaults_vestinglot_forecast"),
            *self.audit_urls(),
        ]
        return urls + super().get_urls()  # before "<path:object_id>/", which would swallow them

    def forecast_view(self, request: HttpRequest) -> HttpResponse:
        """Per currency: the overdue backlog and the next N release days (?days=N, default 7)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = int(request.GET.get("days", FORECAST_DAYS))
        except ValueError:
            days = FORECAST_DAYS
        days = min(max(days, 1), MAX_FORECAST_DAYS)
        forecasts = [forecast_rows(f) for f in unlock_forecast(days=days)]
        context = {
            **self.admin_site.each_context(request),
            "title": "Unlock forecast",
            "subtitle": None,
            "opts": self.model._meta,
            "forecasts": forecasts,
            "today": forecasts[0]["today"] if forecasts else None,
            "days": days,
            "day_choices": (7, 14, 30, 90),
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/vaults/vestinglot/forecast.html", context)
