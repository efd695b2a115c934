"""The ledger in the admin: list and view only. Money moves through the services, never a form.

Also the display rules every admin list and page of ours follows, so an operator reads them
the same everywhere at 1366 px: amounts with thousands separators and their currency
(`money`), long UUIDs shortened with the full value in a tooltip (`short_id`), dates and
times in ISO with seconds and "UTC" (the formats of vancelian/formats).
"""

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from common.parsing import parse_id
from ledger.currencies import display_amount
from ledger.models import Account, LedgerEntry, Operation, WalletLock

SHORT_ID_CHARS = 8  # the last hex digits of a UUID: the random part, also for UUIDv7 ids


def money(field: str, *, currency: str = "currency", description: str | None = None) -> Callable[[Model], str]:
    """A list_display / readonly_fields entry: the amount with thousands separators and the
    row's currency ("30,000.00 AED"); sortable by the field, CSS class field-<field>."""

    def show(obj: Model) -> str:
        return display_amount(getattr(obj, field), getattr(obj, currency))

    show.__name__ = field
    return admin.display(description=description or field.replace("_", " "), ordering=field)(show)


def short_uuid(value, *, url: str | None = None) -> str:
    """The short form "…1a2b3c4d" with the full UUID in its title (hover), linked to `url` when given."""
    if value is None:
        return "-"
    text = str(value)
    short = "\u2026" + text.replace("-", "")[-SHORT_ID_CHARS:]
    if url:
        return format_html('<a class="short-id" href="{}" title="{}">{}</a>', url, text, short)
    return format_html('<span class="short-id" title="{}">{}</span>', text, short)


def short_id(field: str, *, description: str | None = None, admin_url: str | None = None) -> Callable[[Model], str]:
    """A list_display entry for a UUID column (36 characters are too wide at 1366 px): its
    last hex digits, the full value in a tooltip, and a link to `admin_url` (a URL name taking
    the id) when given. `field` is the attribute, e.g. "source_operation_id"."""

    def show(obj: Model) -> str:
        value = getattr(obj, field)
        url = None
        if admin_url and value is not None:
            try:
                url = reverse(admin_url, args=[value])
            except NoReverseMatch:
                url = None
        return short_uuid(value, url=url)

    show.__name__ = field
    return admin.display(description=description or field.replace("_", " "), ordering=field)(show)


class EstimatedCountPaginator(Paginator):
    """A paginator that never runs COUNT(*) over a whole big table.

    It counts at most `count_cap` + 1 rows (a LIMITed subquery); beyond that it takes
    PostgreSQL's planner estimate. Deep pages past the real end are simply empty.
    """

    count_cap = 10_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if not isinstance(qs, QuerySet):
            return super().count
        capped = qs.order_by()[: self.count_cap + 1].count()
        if capped <= self.count_cap:
            return capped
        try:
            plan = json.loads(qs.order_by().explain(format="json"))
            return max(capped, int(plan[0]["Plan"]["Plan Rows"]))
        except (ValueError, KeyError, IndexError, TypeError):
            return capped


def id_search(term: str, *, int_fields: Sequence[str] = (), uuid_fields: Sequence[str] = (), text_fields=()) -> Q:
    """Exact matches only (ids, UUIDs, usernames): they use indexes, unlike icontains on big tables."""
    query = Q(pk__in=[])
    if (number := parse_id(term)) is not None:
        for name in int_fields:
            query |= Q(**{name: number})
    try:
        value = uuid.UUID(term)
    except ValueError:
        value = None
    if value is not None:
        for name in uuid_fields:
            query |= Q(**{name: value})
    for name in text_fields:
        query |= Q(**{f"{name}__iexact": term})
    return query


class ReadOnlyAdmin(admin.ModelAdmin):
    """Listing and viewing only: no add, change or delete, and no delete_selected action."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    search_int_fields: Sequence[str] = ()
    search_uuid_fields: Sequence[str] = ()
    search_text_fields: Sequence[str] = ()
    # {amount field: its currency field}: shown by `money` on the detail page.
    money_fields: Mapping[str, str] = {}

    class Media:
        css = {"all": ["ledger/admin.css"]}

    def get_fields(self, request: HttpRequest, obj=None) -> list:
        """The detail page: every column (also ids and timestamps the form would hide), amounts
        with their currency, then the admin's own read-only entries."""
        if self.fields:
            return list(self.fields)
        shown = [self._money_columns.get(field.name, field.name) for field in self.model._meta.concrete_fields]
        return shown + [name for name in self.readonly_fields if name not in shown]

    @cached_property
    def _money_columns(self) -> dict[str, Callable[[Model], str]]:
        # Built once: the admin matches read-only entries by identity between its calls.
        return {name: money(name, currency=currency) for name, currency in self.money_fields.items()}

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list:
        return self.get_fields(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        query = id_search(
            term,
            int_fields=self.search_int_fields,
            uuid_fields=self.search_uuid_fields,
            text_fields=self.search_text_fields,
        )
        return queryset.filter(query), False


class TraceIdFilter(admin.SimpleListFilter):
    """The operations a run wrote: `?trace_id=` matches operation_metadata->>'trace_id'.

    Links from a run also pass the type and a created_at day range, so PostgreSQL walks
    the (type, created_at) index instead of the whole table.
    """

    title = "trace id"
    parameter_name = "trace_id"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(operation_metadata__trace_id=value)


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = (short_id("id"), "type", "user", money("amount"), "trace_id", "created_at")
    list_filter = ("type", "currency", TraceIdFilter, ("created_at", admin.DateFieldListFilter))
    money_fields = {"amount": "currency"}
    list_select_related = ("user",)
    search_fields = ("id",)  # shows the search box; see get_search_results
    search_help_text = "Exact operation id, idempotency key, trace id or username."
    search_uuid_fields = ("id",)
    search_text_fields = ("idempotency_key", "user__username")
    ordering = ("-created_at",)

    @admin.display(description="trace id")
    def trace_id(self, obj: Operation) -> str:
        return (obj.operation_metadata or {}).get("trace_id", "")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        short_id("operation_id", description="operation", admin_url="admin:ledger_operation_change"),
        "account",
        money("amount"),
    )
    list_filter = ("currency",)
    money_fields = {"amount": "currency"}
    list_select_related = ("operation", "account")
    search_fields = ("id",)
    search_help_text = "Exact entry id, account id or operation id."
    search_int_fields = ("id", "account_id")
    search_uuid_fields = ("operation_id",)
    ordering = ("-id",)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "kind", money("balance"), "created_at")
    list_filter = ("kind", "currency")
    money_fields = {"balance": "currency"}
    list_select_related = ("owner",)
    search_fields = ("id",)
    search_help_text = "Exact account id or username."
    search_int_fields = ("id",)
    search_text_fields = ("owner__username",)
    ordering = ("id",)


@admin.register(WalletLock)
class WalletLockAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "user",
        money("amount"),
        "reason",
        "status",
        short_id("operation_id", description="operation", admin_url="admin:ledger_operation_change"),
        short_id("release_operation_id", description="release operation", admin_url="admin:ledger_operation_change"),
        "split_from_id",
        "created_at",
        "released_at",
    )
    money_fields = {"amount": "currency"}
    list_filter = ("status", "reason", "currency")
    list_select_related = ("user",)
    search_fields = ("id",)
    search_help_text = "Exact lock id, operation id (deposit or release), vault id or username."
    search_int_fields = ("id",)
    search_uuid_fields = ("operation_id", "release_operation_id", "reference_id")
    search_text_fields = ("user__username",)
    ordering = ("-id",)
