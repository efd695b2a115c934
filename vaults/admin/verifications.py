"""The ledger verification history (read only): each verify_ledger the worker ran after a
release or an operator ran from the command line, as /metrics exports the newest."""

from django.contrib import admin
from django.utils.html import format_html

from ledger.admin import ReadOnlyAdmin
from vaults.models import LedgerVerificationRecord


@admin.register(LedgerVerificationRecord)
class LedgerVerificationRecordAdmin(ReadOnlyAdmin):
    list_display = ("checked_at", "scope", "result", "violations", "failed", "seconds_taken", "trigger", "actor")
    list_filter = ("ok", "trigger", "currency", ("checked_at", admin.DateFieldListFilter))
    search_fields = ("trace_id",)
    search_help_text = "Exact trace id of the release the verification followed."
    search_text_fields = ("trace_id",)
    date_hierarchy = "checked_at"
    ordering = ("-checked_at", "-id")

    @admin.display(description="currency", ordering="currency")
    def scope(self, obj: LedgerVerificationRecord) -> str:
        return obj.currency or "all"

    @admin.display(description="result", ordering="ok")
    def result(self, obj: LedgerVerificationRecord) -> str:
        if obj.ok:
            return format_html('<span class="run-status run-status-succeeded">{}</span>', "Clean")
        return format_html('<span class="run-status run-status-failed">{}</span>', "Violations")

    @admin.display(description="failed checks")
    def failed(self, obj: LedgerVerificationRecord) -> str:
        return ", ".join(obj.failed_checks or []) or "-"

    @admin.display(description="secs", ordering="seconds")
    def seconds_taken(self, obj: LedgerVerificationRecord) -> str:
        return f"{obj.seconds:.2f}"

    class Media:
        css = {"all": ["vaults/admin.css"]}
