"""Release run history (read only) with each run's summary, and the lock repair history."""

import json
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from ledger.admin import ReadOnlyAdmin, money
from ledger.currencies import display_amount
from ledger.models import OperationType
from vaults.admin.reversal_action import RUN_ACTION, ReversalActionMixin, reversal_action
from vaults.exceptions import InvalidRelease
from vaults.models import LockRepair, ReleaseRun, RunRecord, RunStatus

# Counts of the runbook's summary, in the order the run page shows them.
SUMMARY_COUNTS = (
    ("matured_found", "Matured lots found"),
    ("executed_count", "Released"),
    ("executed_amount", "Amount released"),
    ("skipped_count", "Skipped (already released)"),
    ("refused_count", "Refused (not matured or not found)"),
    ("errors_count", "Errors"),
    ("locks_closed_count", "Wallet locks closed"),
    ("locks_missing_count", "Wallet locks missing"),
    ("locks_matched_by_fallback", "Locks matched by the fallback"),
    ("locks_split_count", "Locks split (partial release)"),
)
# Short labels for the list at 1366 px; the badge's title says the rest.
SHORT_LABELS = {"COMPLETED_WITH_ERRORS": "With errors"}
STATUS_HELP = {
    "RUNNING": "Running, or its process died and its lease has not expired yet.",
    "SUCCEEDED": "Finished with no error.",
    "COMPLETED_WITH_ERRORS": "Finished; some lots failed (see the errors).",
    "FAILED": "Stopped by an error; what its committed chunks released stays released.",
    "ABANDONED": "Its process died; a later run found its lease expired and took over. "
    "The counts are those of its committed chunks.",
}


# One object each: the admin matches read-only entries by identity.
AMOUNT_COLUMN = money("executed_amount", description="amount")
EXECUTED_AMOUNT = money("executed_amount", description="executed amount")


def status_badge(run: RunRecord, *, short: bool = False) -> str:
    """The status as a coloured label; its title explains it (and gives the error, if any)."""
    value = run.status or ""
    label = dict(RunStatus.choices).get(value) or value.replace("_", " ").capitalize()
    if short:
        label = SHORT_LABELS.get(value, label)
    title = STATUS_HELP.get(value, value)
    if run.error:
        title = f"{title} {run.error}"
    return format_html(
        '<span class="run-status run-status-{}" title="{}">{}</span>', value.lower().replace("_", "-"), title, label
    )


@admin.register(ReleaseRun)
class ReleaseRunAdmin(ReversalActionMixin, ReadOnlyAdmin):
    change_form_template = "admin/vaults/releaserun/change_form.html"
    actions = [reversal_action(RUN_ACTION, "Reverse the selected run's releases…")]
    reversal_action_name = RUN_ACTION
    # The key columns fit 1366 px beside the filters: the trace id by its unique 8 hex digits
    # (full id and actor in the tooltip, on the run page and in the search), the amount with its
    # currency, and the released count linked to the run's operations.
    list_display = (
        "run",
        "status_label",
        "as_of",
        "ccy",
        "released",
        AMOUNT_COLUMN,
        "errors",
        "duration",
        "trigger_code",
        "started_at",
    )
    list_display_links = ("run",)
    list_filter = ("trigger", "status", ("started_at", admin.DateFieldListFilter), "currency", "as_of")
    search_fields = ("trace_id",)
    search_help_text = "Exact trace id or actor."
    search_int_fields = ("id",)
    search_text_fields = ("trace_id", "actor")
    date_hierarchy = "started_at"
    ordering = ("-started_at",)

    class Media:
        css = {"all": ["vaults/admin.css"]}

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if self.is_forged_reversal(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def reversal_scope(self, ids: list[int]) -> dict:
        if len(ids) != 1:
            raise InvalidRelease("select exactly one release run to reverse")
        run = ReleaseRun.objects.get(pk=ids[0])
        return {"run_id": run.pk, "currency": run.currency}

    def reversal_size(self, ids: list[int]) -> int:
        return sum(ReleaseRun.objects.filter(pk__in=ids).values_list("executed_count", flat=True))

    @admin.display(description="run", ordering="trace_id")
    def run(self, obj: ReleaseRun) -> str:
        return format_html(
            '<span class="short-id" title="{} by {}">\u2026{}</span>', obj.trace_id, obj.actor, obj.trace_id[-8:]
        )

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: ReleaseRun) -> str:
        return status_badge(obj, short=True)

    @admin.display(description="status", ordering="status")
    def status_detail(self, obj: ReleaseRun) -> str:
        return status_badge(obj)

    @admin.display(description="ccy", ordering="currency")
    def ccy(self, obj: ReleaseRun) -> str:
        return obj.currency

    @admin.display(description="trigger", ordering="trigger")
    def trigger_code(self, obj: ReleaseRun) -> str:
        return obj.trigger

    @admin.display(description="lots", ordering="executed_count")
    def released(self, obj: ReleaseRun) -> str:
        """The released count, linked to the operations the run wrote."""
        return format_html(
            '<a href="{}" title="The release operations this run wrote">{}</a>',
            self.operations_url(obj),
            f"{obj.executed_count:,}",
        )

    @admin.display(description="errors", ordering="errors_count")
    def errors(self, obj: ReleaseRun) -> str:
        return format_html('<span class="run-errors">{}</span>', obj.errors_count) if obj.errors_count else "0"

    @admin.display(description="secs")
    def duration(self, obj: ReleaseRun) -> str:
        seconds = obj.duration_seconds
        return "" if seconds is None else f"{seconds:.2f}"

    @admin.display(description="duration (s)")
    def duration_detail(self, obj: ReleaseRun) -> str:
        return self.duration(obj)

    @admin.display(description="operations")
    def operations_link(self, obj: ReleaseRun) -> str:
        return format_html('<a href="{}">{} operation(s)</a>', self.operations_url(obj), f"{obj.executed_count:,}")

    @staticmethod
    def operations_url(obj: ReleaseRun) -> str:
        """The run's operations. The type and day range let PostgreSQL use the (type, created_at)
        index; the trace id (operation_metadata) then picks this run's rows."""
        day = datetime.combine(obj.started_at.astimezone(UTC).date(), time.min, tzinfo=UTC)
        end = datetime.combine((obj.finished_at or obj.started_at).astimezone(UTC).date(), time.min, tzinfo=UTC)
        query = urlencode(
            {
                "type__exact": OperationType.VAULT_VESTING_RELEASE,
                "created_at__gte": day.isoformat(),
                "created_at__lt": (end + timedelta(days=1)).isoformat(),
                "trace_id": obj.trace_id,
            }
        )
        return f"{reverse('admin:ledger_operation_changelist')}?{query}"

    # --- the run page ------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj=None):
        return [
            (
                None,
                {
                    "fields": [
                        "trace_id",
                        "status_detail",
                        "exit_code",
                        "as_of",
                        "currency",
                        "trigger",
                        "actor",
                        "task_id",
                    ]
                },
            ),
            (
                "Counts",
                {
                    "fields": [
                        "selected_lots_count",
                        "operations_link",
                        EXECUTED_AMOUNT,
                        "errors_count",
                        "locks_closed_count",
                    ]
                },
            ),
            ("Times (UTC)", {"fields": ["started_at", "finished_at", "heartbeat_at", "duration_detail"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list:
        return [field for _, options in self.get_fieldsets(request, obj) for field in options["fields"]]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> HttpResponse:
        run = self.get_object(request, object_id)
        context = {**(extra_context or {}), **(run_summary_context(run) if run is not None else {})}
        return super().change_view(request, object_id, form_url, context)


def run_summary_context(
    run: RunRecord, *, counts_shown=SUMMARY_COUNTS, amount_key: str = "executed_amount", verb: str = "released"
) -> dict:
    """The run page's summary (a release run, or a reversal run with its own counts): its
    counts and errors (lot, code, message), the refused lots, the error that stopped or
    abandoned it, and the raw JSON."""
    summary = (run.summary or {}).get("summary") or {}
    currency = run.currency
    counts = []
    for key, label in counts_shown:
        if key in summary:
            value = summary[key]
            counts.append((label, display_amount(value, currency) if key == amount_key else value))
    return {
        "progress_verb": verb,
        # A RUNNING run's progress comes from its row: each committed chunk adds its counts.
        "run_progress": {
            "executed": run.executed_count,
            "errors": run.errors_count,
            "selected": getattr(run, "selected_lots_count", None),
            "heartbeat": run.heartbeat_at,
        }
        if run.status == RunStatus.RUNNING
        else None,
        "run_status": run.status,
        "run_status_help": STATUS_HELP.get(run.status, ""),
        "run_error": run.error,
        "summary_counts": counts,
        "summary_errors": summary.get("errors") or [],
        "summary_refused": summary.get("refused") or [],
        "summary_errors_truncated": max(0, (summary.get("errors_count") or 0) - len(summary.get("errors") or [])),
        "summary_json": run.summary,
        "summary_json_text": json.dumps(run.summary, indent=2, sort_keys=False),
    }


@admin.register(LockRepair)
class LockRepairAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "trace_id", "actor", "lock_id", "lot_id", "repaired_amount")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    list_select_related = ("lot",)
    fields = ("created_at", "trace_id", "actor", "lock", "lot", "repaired_amount")
    search_fields = ("trace_id",)
    search_help_text = "Exact trace id, actor, lock id or lot id."
    search_int_fields = ("lock_id", "lot_id")
    search_text_fields = ("trace_id", "actor")
    ordering = ("-created_at", "-id")

    @admin.display(description="amount", ordering="amount")
    def repaired_amount(self, obj: LockRepair) -> str:
        return display_amount(obj.amount, obj.lot.currency)
