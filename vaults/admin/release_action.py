"""The bulk release from the lots list: "Release selected matured lots".

The delete_selected pattern: the first POST shows the dry run of exactly the selection; the
confirming POST (post=yes) calls the release service with trigger=admin, once per currency
that has something to release. A selection with nothing releasable (only released, not
matured or vanished lots) is answered lot by lot, and neither calls the service nor records
a run.
"""

from collections import defaultdict

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from common.admin import ValidActionIdsMixin
from common.parsing import parse_ids
from ledger.currencies import display_amount
from vaults.exceptions import USAGE_ERRORS
from vaults.models import LotStatus, ReleaseTrigger, VestingLot
from vaults.selectors import NOT_MATURED, LotReadiness, lots_release_readiness
from vaults.services.release import ReleaseSummary, release_matured_lots, utc_today
from vaults.tasks import release_selected_avenir_lots

RELEASE_ACTION = "release_selected"
RELEASE_PERMISSION = "vaults.release_vestinglot"
CONFIRMATION_ROWS = 500  # lots listed on the confirmation page; the summary always covers them all
REASONS_LISTED = 50  # lots named in the "not released" message


def reason_text(lot: LotReadiness) -> str:
    """ "lot 7: not matured (release day 2026-12-10)" """
    if lot.reason == NOT_MATURED:
        return f"lot {lot.lot_id}: not matured (release day {lot.release_day:%Y-%m-%d})"
    return f"lot {lot.lot_id}: {lot.reason}"


def in_background(lot_ids: list[int]) -> bool:
    """Above AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS a selection is released by the Celery worker,
    not inside the request (gunicorn's timeout)."""
    return len(lot_ids) > settings.AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS


class ReleaseActionMixin(ValidActionIdsMixin):
    """For the lots' ModelAdmin: the bulk release action, its confirmation and its report."""

    def has_release_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RELEASE_PERMISSION)

    def is_forged_release(self, request: HttpRequest) -> bool:
        """A release POST from someone without the permission (Django would answer it with
        "no action selected", a 302; the changelist answers 403)."""
        return (
            request.method == "POST"
            and RELEASE_ACTION in request.POST.getlist("action")
            and not self.has_release_permission(request)
        )

    @admin.action(permissions=["release"], description="Release selected matured lots")
    def release_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if not self.has_release_permission(request):  # checked again on the confirming POST
            raise PermissionDenied
        selection: dict[str, list[int]] = defaultdict(list)
        for currency, pk in queryset.order_by("currency", "pk").values_list("currency", "pk"):
            selection[currency].append(pk)
        found = {pk for ids in selection.values() for pk in ids}
        # Ticked lots that no longer exist: the queryset drops them silently.
        vanished = sorted(set(parse_ids(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))) - found)
        if request.POST.get("post") == "yes":
            self._release(request, selection, vanished)
            return None  # back to the changelist, which shows the messages
        return self._confirmation(request, selection, vanished)

    # --- the confirming POST --------------------------------------------------

    def _release(self, request: HttpRequest, selection: dict[str, list[int]], vanished: list[int]) -> None:
        all_ids = [pk for ids in selection.values() for pk in ids] + vanished
        readiness = lots_release_readiness(lot_ids=all_ids, as_of=utc_today())
        blocked = [lot for lot in readiness if not lot.releasable]
        releasable = {lot.currency for lot in readiness if lot.releasable}
        if not releasable:
            self.message_user(
                request,
                f"Nothing was released: none of the {len(readiness)} selected lot(s) can be released today. "
                "No release run was recorded.",
                messages.WARNING,
            )
        for currency, lot_ids in selection.items():
            if currency not in releasable:
                continue  # no service call, no run row, for a currency with nothing to release
            if in_background(lot_ids):
                self._queue(request, currency, lot_ids)
                continue
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
        if blocked:
            listed = "; ".join(reason_text(lot) for lot in blocked[:REASONS_LISTED])
            more = f"; and {len(blocked) - REASONS_LISTED} more" if len(blocked) > REASONS_LISTED else ""
            self.message_user(request, f"Not released ({len(blocked)}): {listed}{more}.", messages.WARNING)

    def _queue(self, request: HttpRequest, currency: str, lot_ids: list[int]) -> None:
        """Too many lots for one web request: the Celery worker runs the same release; its
        run row shows the progress chunk by chunk."""
        try:
            sent = release_selected_avenir_lots.apply_async(
                kwargs={"currency": currency, "lot_ids": lot_ids, "actor": request.user.get_username()},
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 1, "interval_max": 2},
            )
        except Exception as exc:  # the broker is down: nothing was queued, nothing released
            self.message_user(
                request, f"{currency}: could not queue the release ({exc}); nothing was done.", messages.ERROR
            )
            return
        runs_url = f"{reverse('admin:vaults_releaserun_changelist')}?task_id={sent.id}"
        self.message_user(
            request,
            format_html(
                '{}: {} lot(s) queued for the Celery worker (task {}). <a href="{}">Follow its run</a>: '
                "the run page shows its progress.",
                currency,
                len(lot_ids),
                sent.id,
                runs_url,
            ),
            messages.SUCCESS,
        )

    def _report(self, request: HttpRequest, summary: ReleaseSummary) -> None:
        currency = summary.currency
        if summary.already_running:
            self.message_user(
                request,
                f"{currency}: another release run for {summary.as_of:%Y-%m-%d} is in progress; nothing was done. "
                "Retry shortly.",
                messages.WARNING,
            )
            return
        run_url = reverse("admin:vaults_releaserun_change", args=[summary.run_id])
        self.message_user(
            request,
            format_html(
                'Released {} lot(s), {}. Locks closed: {}, missing: {}. Trace id {} (<a href="{}">view run</a>).',
                summary.executed_count,
                display_amount(summary.executed_amount, currency),
                summary.locks_closed_count,
                summary.locks_missing_count,
                summary.trace_id,
                run_url,
            ),
            messages.SUCCESS if summary.executed_count and not summary.errors_count else messages.WARNING,
        )
        if summary.errors_count:
            errors = "; ".join(f"lot {e.lot_id}: {e.code}" for e in summary.errors[:20])
            self.message_user(request, f"{currency}: {summary.errors_count} lot(s) failed: {errors}", messages.ERROR)

    # --- the confirmation page: the dry run of exactly the selection ----------

    def _confirmation(self, request: HttpRequest, selection: dict[str, list[int]], vanished: list[int]) -> HttpResponse:
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
            "selected_ids": all_ids + vanished,
            "vanished": vanished,
            "action_name": RELEASE_ACTION,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "releasable": any(s.get("summary") and s["summary"].executed_count for s in sections),
            "media": self.media,
            "sync_max_lots": settings.AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS,
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
        # Which lock each lot would close: the dry run's own plan (the release's lock lookup).
        planned = {p.lot_id: p for p in summary.planned}
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
            plan = planned.get(lot.pk)
            if outcome != "will be released" or plan is None:
                lock = ""
            elif plan.lock_id is None:
                lock = "missing (released anyway; the ledger prevails)"
            else:
                lock = f"#{plan.lock_id} closes" + (" (fallback match)" if plan.via == "fallback" else "")
            rows.append(
                {
                    "lot": lot,
                    "amount": display_amount(lot.amount, lot.currency),
                    "outcome": outcome,
                    "lock": lock,
                    "ok": outcome == "will be released",
                }
            )
        return {
            "currency": currency,
            "background": in_background(lot_ids),
            "summary": summary,
            "amount": display_amount(summary.executed_amount, currency),
            "not_matured": [r.lot_id for r in summary.refused if r.reason == "NOT_MATURED"],
            "count": len(lot_ids),
            "lots": rows,
            "truncated": len(lot_ids) > len(lots),
        }
