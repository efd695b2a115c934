"""Operator surfaces for AVENIR: vesting lots (bulk release, unlock forecast, lock audit and its
repair), release run history and repair history.

The admin only parses, confirms, calls a service and reports: money moves through
vaults.services.release.release_matured_lots, locks are repaired through
vaults.services.repair, findings come from vaults.audit.
"""

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ledger.admin import ReadOnlyAdmin
from ledger.currencies import MINOR_UNITS, format_amount
from ledger.models import OperationType, WalletLock
from vaults.audit import audit_avenir_locks
from vaults.exceptions import USAGE_ERRORS
from vaults.models import LockRepair, LotStatus, ReleaseRun, ReleaseTrigger, VestingLot
from vaults.selectors import get_vault, unlock_forecast
from vaults.services.lock_matching import LotKey, match_locks
from vaults.services.release import ReleaseSummary, release_matured_lots, utc_today
from vaults.services.repair import close_locks_of_released_lots

RELEASE_ACTION = "release_selected"
RELEASE_PERMISSION = "vaults.release_vestinglot"
REPAIR_PERMISSION = "vaults.repair_wallet_lock"
AUDIT_PERMISSIONS = ("vaults.view_vestinglot", "ledger.view_walletlock")
CONFIRMATION_ROWS = 500  # lots listed on the confirmation page; the summary always covers them all
FORECAST_DAYS = 5  # the runbook's "next run" query: LIMIT 5, here per currency


def forecast_by_currency() -> dict[str, list[dict]]:
    """{currency: the next FORECAST_DAYS release days} from the runbook's query (vaults.selectors)."""
    today = utc_today()
    rows = unlock_forecast(limit=FORECAST_DAYS * len(MINOR_UNITS))
    result: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if len(result[row["currency"]]) < FORECAST_DAYS:
            result[row["currency"]].append(
                {
                    **row,
                    "total_remaining": format_amount(row["total_remaining"], row["currency"]),
                    "overdue": row["release_day"] < today,
                }
            )
    return dict(sorted(result.items()))


@admin.register(VestingLot)
class VestingLotAdmin(ReadOnlyAdmin):
    change_list_template = "admin/vaults/vestinglot/change_list.html"
    list_display = (
        "id",
        "user",
        "currency",
        "amount",
        "released_amount",
        "deposit_day",
        "release_day",
        "status",
        "source_operation_id",
        "last_release_operation_id",
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
    actions = [RELEASE_ACTION]

    # --- permissions ---------------------------------------------------------

    def has_release_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RELEASE_PERMISSION)

    def has_audit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perms(AUDIT_PERMISSIONS)

    def has_repair_permission(self, request: HttpRequest) -> bool:
        return self.has_audit_permission(request) and request.user.has_perm(REPAIR_PERMISSION)

    # --- changelist: forecast, audit link, and the 403 for a forged release --

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if (
            request.method == "POST"
            and RELEASE_ACTION in request.POST.getlist("action")
            and not self.has_release_permission(request)
        ):
            # Without this, Django answers a forged action with "no action selected" (302).
            raise PermissionDenied
        context = {
            "unlock_forecast": forecast_by_currency(),
            "can_audit": self.has_audit_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    # --- the bulk release ----------------------------------------------------

    @admin.action(permissions=["release"], description="Release selected matured lots")
    def release_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if not self.has_release_permission(request):  # checked again on the confirming POST
            raise PermissionDenied
        selection: dict[str, list[int]] = defaultdict(list)
        for currency, pk in queryset.order_by("currency", "pk").values_list("currency", "pk"):
            selection[currency].append(pk)
        if request.POST.get("post") == "yes":
            self._release(request, selection)
            return None  # back to the changelist, which shows the messages
        return self._confirmation(request, selection)

    def _release(self, request: HttpRequest, selection: dict[str, list[int]]) -> None:
        for currency, lot_ids in selection.items():
            try:
                summary = release_matured_lots(
                    currency=currency,
                    lot_ids=lot_ids,
                    trigger=ReleaseTrigger.ADMIN,
                    actor=request.user.get_username(),
                )
            except USAGE_ERRORS as exc:
                self.message_user(request, f"{currency}: nothing released: {exc}", messages.ERROR)
                continue
            self._report(request, summary)

    def _report(self, request: HttpRequest, summary: ReleaseSummary) -> None:
        currency = summary.currency
        if summary.already_running:
            self.message_user(
                request,
                f"{currency}: another release run for {summary.as_of} is in progress; nothing was done. Retry shortly.",
                messages.WARNING,
            )
            return
        run_url = reverse("admin:vaults_releaserun_change", args=[summary.run_id])
        self.message_user(
            request,
            format_html(
                'Released {} lot(s), {} {}. Locks closed: {}, missing: {}. Trace id {} (<a href="{}">view run</a>).',
                summary.executed_count,
                format_amount(summary.executed_amount, currency),
                currency,
                summary.locks_closed_count,
                summary.locks_missing_count,
                summary.trace_id,
                run_url,
            ),
            messages.SUCCESS if summary.executed_count and not summary.errors_count else messages.WARNING,
        )
        refused = [r.lot_id for r in summary.refused if r.reason == "NOT_MATURED"]
        if refused:
            self.message_user(
                request,
                f"{currency}: {len(refused)} lot(s) not matured, refused: {', '.join(map(str, refused[:50]))}",
                messages.WARNING,
            )
        if summary.errors_count:
            errors = "; ".join(f"lot {e.lot_id}: {e.code}" for e in summary.errors[:20])
            self.message_user(request, f"{currency}: {summary.errors_count} lot(s) failed: {errors}", messages.ERROR)

    def _confirmation(self, request: HttpRequest, selection: dict[str, list[int]]) -> HttpResponse:
        """The delete_selected pattern: the dry run of exactly this selection, then a confirming POST."""
        sections = []
        all_ids: list[int] = []
        for currency, lot_ids in selection.items():
            all_ids.extend(lot_ids)
            try:
                summary = release_matured_lots(
                    currency=currency,
                    lot_ids=lot_ids,
                    dry_run=True,
                    trigger=ReleaseTrigger.ADMIN,
                    actor=request.user.get_username(),
                )
            except USAGE_ERRORS as exc:
                sections.append({"currency": currency, "error": str(exc), "lots": [], "count": len(lot_ids)})
                continue
            sections.append(self._section(currency, lot_ids, summary))
        context = {
            **self.admin_site.each_context(request),
            "title": "Release selected matured lots?",
            "subtitle": None,
            "opts": self.model._meta,
            "sections": sections,
            "selected_ids": all_ids,
            "action_name": RELEASE_ACTION,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "releasable": any(s.get("summary") and s["summary"].executed_count for s in sections),
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/vaults/vestinglot/release_confirmation.html", context)

    def _section(self, currency: str, lot_ids: list[int], summary: ReleaseSummary) -> dict:
        refused = {r.lot_id: r.reason for r in summary.refused}
        errors = {e.lot_id: e.code for e in summary.errors}
        lots = list(
            VestingLot.objects.filter(pk__in=lot_ids)
            .select_related("user")
            .order_by("release_day", "pk")[:CONFIRMATION_ROWS]
        )
        releasing = [lot for lot in lots if lot.status == LotStatus.VESTED and lot.pk not in refused]
        # Which lock each lot would close: the same lookup as the release (read only, no row lock).
        matches = match_locks(
            vault=get_vault(currency=currency),
            lots=[
                LotKey(lot.pk, lot.user_id, lot.amount, lot.deposit_day, lot.source_operation_id) for lot in releasing
            ],
            for_update=False,
        )
        rows = []
        for lot in lots:
            if lot.status == LotStatus.RELEASED:
                outcome = "already released (skipped)"
            elif lot.pk in refused:
                outcome = "refused: not matured" if refused[lot.pk] == "NOT_MATURED" else "refused"
            elif lot.pk in errors:
                outcome = f"error: {errors[lot.pk]}"
            else:
                outcome = "will be released"
            match = matches.get(lot.pk)
            if outcome != "will be released":
                lock = ""
            elif match is None:
                lock = "missing (released anyway; the ledger prevails)"
            else:
                lock = f"#{match.lock.pk} closes" + (" (fallback match)" if match.via == "fallback" else "")
            rows.append({"lot": lot, "outcome": outcome, "lock": lock, "ok": outcome == "will be released"})
        return {
            "currency": currency,
            "summary": summary,
            "amount": format_amount(summary.executed_amount, currency),
            "not_matured": [r.lot_id for r in summary.refused if r.reason == "NOT_MATURED"],
            "count": len(lot_ids),
            "lots": rows,
            "truncated": len(lot_ids) > len(lots),
        }

    # --- lock audit and its repair ------------------------------------------

    def get_urls(self):
        urls = [
            path("audit/", self.admin_site.admin_view(self.audit_view), name="vaults_vestinglot_audit"),
            path(
                "audit/repair/",
                self.admin_site.admin_view(self.repair_view),
                name="vaults_vestinglot_audit_repair",
            ),
        ]
        return urls + super().get_urls()  # before "<path:object_id>/", which would swallow them

    def audit_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_audit_permission(request):
            raise PermissionDenied
        currency = request.GET.get("currency") or None
        if currency is not None and currency not in MINOR_UNITS:
            self.message_user(request, f"Unknown currency {currency!r}: showing every currency.", messages.ERROR)
            currency = None
        report = audit_avenir_locks(currency=currency)
        context = {
            **self.admin_site.each_context(request),
            "title": "AVENIR lock audit",
            "subtitle": None,
            "opts": self.model._meta,
            "report": report,
            "currencies": sorted(MINOR_UNITS),
            "currency": currency,
            "can_repair": self.has_repair_permission(request),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/vaults/vestinglot/lock_audit.html", context)

    @staticmethod
    def _lock_ids(request: HttpRequest) -> list[int]:
        return sorted({int(v) for v in request.POST.getlist("lock_id") if v.isdigit()})

    def repair_view(self, request: HttpRequest) -> HttpResponse:
        """POST lock ids: a confirmation page; POST with post=yes: close them (the service re-checks each)."""
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:vaults_vestinglot_audit"))
        if not self.has_repair_permission(request):
            raise PermissionDenied
        lock_ids = self._lock_ids(request)
        audit_url = reverse("admin:vaults_vestinglot_audit")
        if not lock_ids:
            self.message_user(request, "Select at least one lock to close.", messages.WARNING)
            return HttpResponseRedirect(audit_url)
        if request.POST.get("post") == "yes":
            result = close_locks_of_released_lots(lock_ids=lock_ids, actor=request.user.get_username())
            if result.repaired:
                history = reverse("admin:vaults_lockrepair_changelist") + f"?q={result.trace_id}"
                self.message_user(
                    request,
                    format_html(
                        'Closed {} lock(s): {}. Trace id {} (<a href="{}">repair record</a>).',
                        len(result.repaired),
                        ", ".join(f"#{r.lock_id} (lot {r.lot_id})" for r in result.repaired),
                        result.trace_id,
                        history,
                    ),
                    messages.SUCCESS,
                )
            if result.refused:
                self.message_user(
                    request,
                    "Not closed: " + ", ".join(f"#{r.lock_id} ({r.reason})" for r in result.refused),
                    messages.WARNING,
                )
            return HttpResponseRedirect(audit_url)
        locks = WalletLock.objects.filter(pk__in=lock_ids).select_related("user").order_by("pk")
        lots = {
            lot.source_operation_id: lot
            for lot in VestingLot.objects.filter(source_operation_id__in=[lock.operation_id for lock in locks])
        }
        context = {
            **self.admin_site.each_context(request),
            "title": "Close the ACTIVE locks of released lots?",
            "subtitle": None,
            "opts": self.model._meta,
            "rows": [{"lock": lock, "lot": lots.get(lock.operation_id)} for lock in locks],
            "lock_ids": lock_ids,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/vaults/vestinglot/lock_repair_confirmation.html", context)


@admin.register(ReleaseRun)
class ReleaseRunAdmin(ReadOnlyAdmin):
    list_display = (
        "trace_id",
        "as_of",
        "currency",
        "trigger",
        "actor",
        "status",
        "exit_code",
        "executed_count",
        "executed_amount",
        "errors_count",
        "duration",
        "operations_link",
    )
    list_filter = ("trigger", "status", ("started_at", admin.DateFieldListFilter), "currency", "as_of")
    search_fields = ("trace_id",)
    search_help_text = "Exact trace id or actor."
    search_int_fields = ("id",)
    search_text_fields = ("trace_id", "actor")
    readonly_fields = ("duration", "operations_link")
    date_hierarchy = "started_at"
    ordering = ("-started_at",)

    @admin.display(description="duration (s)")
    def duration(self, obj: ReleaseRun) -> str:
        seconds = obj.duration_seconds
        return "" if seconds is None else f"{seconds:.2f}"

    @admin.display(description="operations")
    def operations_link(self, obj: ReleaseRun) -> str:
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
        url = f"{reverse('admin:ledger_operation_changelist')}?{query}"
        return format_html('<a href="{}">{} operation(s)</a>', url, obj.executed_count)


@admin.register(LockRepair)
class LockRepairAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "trace_id", "actor", "lock_id", "lot_id", "amount")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    search_fields = ("trace_id",)
    search_help_text = "Exact trace id, actor, lock id or lot id."
    search_int_fields = ("lock_id", "lot_id")
    search_text_fields = ("trace_id", "actor")
    ordering = ("-created_at", "-id")
