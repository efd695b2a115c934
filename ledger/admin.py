"""The ledger in the admin: list and view only. Money moves through the services, never a form."""

import json
import uuid
from collections.abc import Sequence
from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from ledger import admin_tokens  # noqa: F401 - registers the expiring-token admin (replaces knox's)
from ledger.models import Account, LedgerEntry, Operation, WalletLock


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
    if term.isdigit():
        for name in int_fields:
            query |= Q(**{name: int(term)})
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
    list_display = ("id", "type", "user", "currency", "amount", "trace_id", "created_at")
    list_filter = ("type", "currency", TraceIdFilter, ("created_at", admin.DateFieldListFilter))
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
    list_display = ("id", "operation", "account", "currency", "amount")
    list_filter = ("currency",)
    list_select_related = ("operation", "account")
    search_fields = ("id",)
    search_help_text = "Exact entry id, account id or operation id."
    search_int_fields = ("id", "account_id")
    search_uuid_fields = ("operation_id",)
    ordering = ("-id",)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "currency", "kind", "balance", "created_at")
    list_filter = ("kind", "currency")
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
        "currency",
        "amount",
        "reason",
        "status",
        "operation_id",
        "release_operation_id",
        "split_from_id",
        "created_at",
        "released_at",
    )
    list_filter = ("status", "reason", "currency")
    list_select_related = ("user",)
    search_fields = ("id",)
    search_help_text = "Exact lock id, operation id (deposit or release), vault id or username."
    search_int_fields = ("id",)
    search_uuid_fields = ("operation_id", "release_operation_id", "reference_id")
    search_text_fields = ("user__username",)
    ordering = ("-id",)
