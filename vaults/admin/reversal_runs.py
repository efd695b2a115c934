"""Reversal run history (read only), with each run's scope, reason and summary."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from ledger.admin import ReadOnlyAdmin, money
from vaults.admin.runs import run_summary_context, status_badge
from vaults.models import ReversalRun

# Counts of the reversal's summary, in the order the run page shows them.
REVERSAL_COUNTS = (
    ("found", "Releases in scope"),
    ("reversed_count", "Reversed"),
    ("reversed_amount", "Amount moved back to locked"),
    ("skipped_count", "Skipped (already reversed)"),
    ("refused_count", "Not reversible (lot not found or not released)"),
    ("errors_count", "Refused (stay released)"),
)
AMOUNT_COLUMN = money("executed_amount", description="amount")
REVERSED_AMOUNT = money("executed_amount", description="reversed amount")


@admin.register(ReversalRun)
class ReversalRunAdmin(ReadOnlyAdmin):
    change_form_template = "admin/vaults/releaserun/change_form.html"
    list_display = ("run", "status_label", "scope_text", "ccy", "reversed", AMOUNT_COLUMN, "errors_count", "actor")
    list_display_links = ("run",)
    list_filter = ("status", "scope", ("started_at", admin.DateFieldListFilter), "currency")
    search_fields = ("trace_id",)
    search_help_text = "Exact trace id, actor or task id."
    search_int_fields = ("id",)
    search_text_fields = ("trace_id", "actor", "task_id")
    date_hierarchy = "started_at"
    ordering = ("-started_at",)
    fieldsets = [
        (None, {"fields": ["trace_id", "status_detail", "exit_code", "currency", "trigger", "actor", "task_id"]}),
        ("Scope", {"fields": ["scope", "release_run_link", "as_of", "selected_lots_count", "reason"]}),
        ("New release day", {"fields": ["release_day", "vesting_days"]}),
        ("Counts", {"fields": ["executed_count", REVERSED_AMOUNT, "skipped_count", "errors_count"]}),
        ("Times (UTC)", {"fields": ["started_at", "finished_at", "heartbeat_at", "holder"]}),
    ]

    class Media:
        css = {"all": ["vaults/admin.css"]}

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list:
        return [field for _, options in self.fieldsets for field in options["fields"]]

    @admin.display(description="run", ordering="trace_id")
    def run(self, obj: ReversalRun) -> str:
        return format_html(
            '<span class="short-id" title="{} by {}">\u2026{}</span>', obj.trace_id, obj.actor, obj.trace_id[-8:]
        )

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: ReversalRun) -> str:
        return status_badge(obj, short=True)

    @admin.display(description="status", ordering="status")
    def status_detail(self, obj: ReversalRun) -> str:
        return status_badge(obj)

    @admin.display(description="scope", ordering="scope")
    def scope_text(self, obj: ReversalRun) -> str:
        if obj.release_run_id:
            return f"run {obj.release_run_id}"
        if obj.as_of:
            return f"as_of {obj.as_of:%Y-%m-%d}"
        return f"{obj.selected_lots_count} lot(s)"

    @admin.display(description="ccy", ordering="currency")
    def ccy(self, obj: ReversalRun) -> str:
        return obj.currency

    @admin.display(description="reversed", ordering="executed_count")
    def reversed(self, obj: ReversalRun) -> str:
        return f"{obj.executed_count:,}"

    @admin.display(description="release run")
    def release_run_link(self, obj: ReversalRun) -> str:
        if not obj.release_run_id:
            return ""
        url = reverse("admin:vaults_releaserun_change", args=[obj.release_run_id])
        return format_html('<a href="{}">{}</a>', url, obj.release_run_id)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> HttpResponse:
        run = self.get_object(request, object_id)
        summary = (
            run_summary_context(run, counts_shown=REVERSAL_COUNTS, amount_key="reversed_amount", verb="reversed")
            if run is not None
            else {}
        )
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **summary})
