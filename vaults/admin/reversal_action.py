"""Reversing releases from the admin: "Reverse the releases of selected lots…" on the lots
list and "Reverse the selected run's releases…" on the release runs list.

Three POSTs, each checked against the permission vaults.reverse_release:
1. the action: a form asking why, and the new release day (a date, or vesting days);
2. "Preview": the reversal service's own dry run of exactly that scope, lot by lot;
3. "Yes, reverse": the same service for real, with trigger=admin and the operator as actor,
   or the Celery worker when the scope is larger than AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS.
"""

from django import forms
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
from ledger.currencies import display_amount
from vaults.exceptions import USAGE_ERRORS
from vaults.models import ReleaseTrigger
from vaults.services.reversal import ReversalSummary, reverse_releases
from vaults.services.reversal.entry import MAX_REASON_LENGTH, MAX_VESTING_DAYS
from vaults.tasks import reverse_avenir_releases

REVERSE_PERMISSION = "vaults.reverse_release"
LOTS_ACTION = "reverse_selected_lots"
RUN_ACTION = "reverse_selected_run"
ERRORS_LISTED = 20


class ReversalForm(forms.Form):
    reason = forms.CharField(max_length=MAX_REASON_LENGTH, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))
    release_day = forms.DateField(required=False, help_text="The lots' new release day (after today, UTC).")
    vesting_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VESTING_DAYS,
        help_text="Or: each lot's new release day is its deposit day plus these days.",
    )

    def clean(self):
        data = super().clean()
        if (data.get("release_day") is None) == (data.get("vesting_days") is None):
            raise forms.ValidationError("Give exactly one: a new release day, or vesting days.")
        return data


class ReversalActionMixin(ValidActionIdsMixin):
    """For the lots' and the runs' ModelAdmin: the reversal action, its form, its dry run,
    and its report. `reversal_action_name` names the action; `reversal_scope(ids)` turns the
    selection into the service's scope keyword arguments."""

    reversal_action_name: str

    def has_reverse_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVERSE_PERMISSION)

    def is_forged_reversal(self, request: HttpRequest) -> bool:
        """A reversal POST from someone without the permission: 403, nothing moves."""
        return (
            request.method == "POST"
            and self.reversal_action_name in request.POST.getlist("action")
            and not self.has_reverse_permission(request)
        )

    def reversal_scope(self, ids: list[int]) -> dict:
        raise NotImplementedError

    def reversal_size(self, ids: list[int]) -> int:
        """How many lots the scope holds, to choose between the request and the worker."""
        return len(ids)

    def reverse_releases_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if not self.has_reverse_permission(request):  # checked again on every POST of the flow
            raise PermissionDenied
        ids = sorted(queryset.values_list("pk", flat=True))
        form = ReversalForm(request.POST if "step" in request.POST else None)
        step = request.POST.get("step")
        if step in ("preview", "confirm") and form.is_valid():
            try:
                scope = self.reversal_scope(ids)
            except USAGE_ERRORS as exc:
                return self._page(request, ids, form, summary=None, error=str(exc))
            options = {**scope, **_day_rule(form.cleaned_data), "reason": form.cleaned_data["reason"]}
            if step == "confirm":
                self._reverse(request, ids, options)
                return None  # back to the list, which shows the messages
            return self._preview(request, ids, form, options)
        return self._page(request, ids, form, summary=None, error=None)

    def _preview(self, request: HttpRequest, ids: list[int], form: ReversalForm, options: dict) -> HttpResponse:
        try:
            summary = reverse_releases(
                **options, dry_run=True, trigger=ReleaseTrigger.ADMIN, actor=request.user.get_username()
            )
        except USAGE_ERRORS as exc:
            return self._page(request, ids, form, summary=None, error=str(exc))
        return self._page(request, ids, form, summary=summary, error=None)

    def _reverse(self, request: HttpRequest, ids: list[int], options: dict) -> None:
        actor = request.user.get_username()
        if self.reversal_size(ids) > settings.AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS:
            self._queue(request, {**_json_ready(options), "actor": actor})
            return
        try:
            summary = reverse_releases(**options, trigger=ReleaseTrigger.ADMIN, actor=actor)
        except USAGE_ERRORS as exc:
            self.message_user(request, f"Nothing was reversed: {exc}", messages.ERROR)
            return
        run_url = reverse("admin:vaults_reversalrun_change", args=[summary.run_id])
        currency = summary.currency
        self.message_user(
            request,
            format_html(
                'Reversed {} release(s), {}; {} already reversed (skipped). Trace id {} (<a href="{}">view run</a>).',
                summary.reversed_count,
                display_amount(summary.reversed_amount, currency),
                summary.skipped_count,
                summary.trace_id,
                run_url,
            ),
            messages.SUCCESS if not summary.errors_count else messages.WARNING,
        )
        if summary.errors_count:
            listed = "; ".join(f"lot {e.lot_id}: {e.code}" for e in summary.errors[:ERRORS_LISTED])
            self.message_user(
                request, f"{summary.errors_count} lot(s) refused and left released: {listed}", messages.ERROR
            )
        if summary.refused:
            listed = "; ".join(f"lot {r.lot_id}: {r.reason}" for r in summary.refused[:ERRORS_LISTED])
            self.message_user(request, f"Not reversed ({len(summary.refused)}): {listed}", messages.WARNING)

    def _queue(self, request: HttpRequest, kwargs: dict) -> None:
        try:
            sent = reverse_avenir_releases.apply_async(
                kwargs=kwargs,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 1, "interval_max": 2},
            )
        except Exception as exc:  # the broker is down: nothing was queued, nothing reversed
            self.message_user(request, f"Could not queue the reversal ({exc}); nothing was done.", messages.ERROR)
            return
        runs_url = f"{reverse('admin:vaults_reversalrun_changelist')}?task_id={sent.id}"
        self.message_user(
            request,
            format_html(
                'The reversal was queued for the Celery worker (task {}). <a href="{}">Follow its run</a>.',
                sent.id,
                runs_url,
            ),
            messages.SUCCESS,
        )

    def _page(
        self, request: HttpRequest, ids: list[int], form: ReversalForm, *, summary: ReversalSummary | None, error
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Reverse releases?" if summary else "Reverse releases: why, and until when?",
            "subtitle": None,
            "opts": self.model._meta,
            "form": form,
            "summary": summary,
            "amount": display_amount(summary.reversed_amount, summary.currency) if summary else "",
            "planned": [
                {"lot": p.lot_id, "amount": display_amount(p.amount, summary.currency), "release_day": p.release_day}
                for p in (summary.planned if summary else ())
            ],
            "error": error,
            "selected_ids": ids,
            "action_name": self.reversal_action_name,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "background": self.reversal_size(ids) > settings.AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/vaults/reversal_confirmation.html", context)


def reversal_action(name: str, description: str):
    """The admin action, under its own name, behind the reverse_release permission."""

    def action(modeladmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return modeladmin.reverse_releases_action(request, queryset)

    action.__name__ = name
    return admin.action(permissions=["reverse"], description=description)(action)


def _day_rule(data: dict) -> dict:
    return {"release_day": data.get("release_day"), "vesting_days": data.get("vesting_days")}


def _json_ready(options: dict) -> dict:
    """The service's options as the task's JSON kwargs."""
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in options.items()}
