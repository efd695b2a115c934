"""The vesting lots list (columns chosen to fit 1366 px), its per-currency forecast summary, and
the unlock forecast page (/admin/vaults/vestinglot/forecast/?days=N)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from common.admin import short_id
from ledger.admin import ReadOnlyAdmin, money
from ledger.currencies import display_amount
from vaults.admin.lock_audit import LockAuditMixin
from vaults.admin.release_action import RELEASE_ACTION, ReleaseActionMixin
from vaults.admin.reversal_action import LOTS_ACTION, ReversalActionMixin, reversal_action
from vaults.exceptions import InvalidRelease
from vaults.models import VestingLot
from vaults.selectors import FORECAST_DAYS, MAX_FORECAST_DAYS, CurrencyForecast, unlock_forecast
from vaults.selectors.lots import lot_release_history

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
class VestingLotAdmin(ReleaseActionMixin, ReversalActionMixin, LockAuditMixin, ReadOnlyAdmin):
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
    readonly_fields = ("release_history",)
    reversal_action_name = LOTS_ACTION
    search_text_fields = ("user__username", "user__email")
    money_fields = {"amount": "currency", "released_amount": "currency"}
    actions = [RELEASE_ACTION, reversal_action(LOTS_ACTION, "Reverse the releases of selected lots…")]

    class Media:
        css = {"all": ["vaults/admin.css"]}

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if self.is_forged_release(request) or self.is_forged_reversal(request):
            raise PermissionDenied
        context = {
            # Compact, one row per currency; the full forecast has its own page.
            "unlock_forecast": [forecast_rows(f) for f in unlock_forecast(days=1)],
            "can_audit": self.has_audit_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def reversal_scope(self, ids: list[int]) -> dict:
        currencies = set(VestingLot.objects.filter(pk__in=ids).values_list("currency", flat=True))
        if len(currencies) > 1:
            raise InvalidRelease("select lots of one currency: a reversal runs per vault")
        return {"lot_ids": ids, "currency": currencies.pop() if currencies else "AED"}

    @admin.display(description="releases and reversals")
    def release_history(self, obj: VestingLot) -> str:
        """Every release of the lot and the reversal that took it back, oldest first."""
        rows = lot_release_history(lot=obj)
        if not rows:
            return "never released"
        return format_html(
            '<table class="lot-history"><thead><tr><th>#</th><th>release</th><th>at</th><th>amount</th>'
            "<th>reversal</th><th>at</th><th>reason</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        row.number,
                        _operation_link(row.release_id),
                        f"{row.released_at:%Y-%m-%d %H:%M:%S} UTC",
                        display_amount(row.amount, obj.currency),
                        _operation_link(row.reversal_id) if row.reversal_id else "",
                        f"{row.reversed_at:%Y-%m-%d %H:%M:%S} UTC" if row.reversed_at else "",
                        row.reason,
                    )
                    for row in rows
                ),
            ),
        )

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


def _operation_link(operation_id) -> str:
    return format_html('<a href="{}">{}</a>', reverse(OPERATION_CHANGE, args=[operation_id]), str(operation_id)[-8:])
