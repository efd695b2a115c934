"""The lock audit page and its one repair: close the ACTIVE lock of a RELEASED lot."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from common.parsing import parse_ids
from ledger.currencies import MINOR_UNITS
from vaults.selectors.lock_audit import audit_avenir_locks, repair_preview
from vaults.services.repair import close_locks_of_released_lots

REPAIR_PERMISSION = "vaults.repair_wallet_lock"
AUDIT_PERMISSIONS = ("vaults.view_vestinglot", "ledger.view_walletlock")


class LockAuditMixin:
    """For the lots' ModelAdmin: the audit and repair views, under the lots' URLs."""

    def has_audit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perms(AUDIT_PERMISSIONS)

    def has_repair_permission(self, request: HttpRequest) -> bool:
        return self.has_audit_permission(request) and request.user.has_perm(REPAIR_PERMISSION)

    def audit_urls(self) -> list:
        return [
            path("audit/", self.admin_site.admin_view(self.audit_view), name="vaults_vestinglot_audit"),
            path(
                "audit/repair/",
                self.admin_site.admin_view(self.repair_view),
                name="vaults_vestinglot_audit_repair",
            ),
        ]

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
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/vaults/vestinglot/lock_audit.html", context)

    @staticmethod
    def _lock_ids(request: HttpRequest) -> list[int]:
        return parse_ids(request.POST.getlist("lock_id"))

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
            self._repair(request, lock_ids)
            return HttpResponseRedirect(audit_url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Close the ACTIVE locks of released lots?",
            "subtitle": None,
            "opts": self.model._meta,
            "rows": repair_preview(lock_ids=lock_ids),
            "lock_ids": lock_ids,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/vaults/vestinglot/lock_repair_confirmation.html", context)

    def _repair(self, request: HttpRequest, lock_ids: list[int]) -> None:
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
