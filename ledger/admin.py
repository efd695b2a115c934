"""The ledger in the admin: list and view only. Money moves through the services, never a form.

Also the money display rule every admin list and page of ours follows, so an operator reads
amounts the same everywhere at 1366 px: thousands separators and their currency (`money`).
Short UUIDs (`short_id`) and read-only bases are in common/admin.py; dates and times are in
ISO with seconds and "UTC" (the formats of vancelian/formats).
"""

from collections.abc import Callable, Mapping

from django.contrib import admin
from django.db.models import Model

from common.admin import ReadOnlyModelAdmin, short_id
from ledger.currencies import display_amount
from ledger.models import Account, LedgerEntry, Operation, WalletLock


def money(field: str, *, currency: str = "currency", description: str | None = None) -> Callable[[Model], str]:
    """A list_display / readonly_fields entry: the amount with thousands separators and the
    row's currency ("30,000.00 AED"); sortable by the field, CSS class field-<field>."""

    def show(obj: Model) -> str:
        return display_amount(getattr(obj, field), getattr(obj, currency))

    show.__name__ = field
    return admin.display(description=description or field.replace("_", " "), ordering=field)(show)


class ReadOnlyAdmin(ReadOnlyModelAdmin):
    """Our read-only admins: amounts with their currency on the detail page, and the list CSS."""

    # {amount field: its currency field}: shown by `money` on the detail page.
    money_fields: Mapping[str, str] = {}

    class Media:
        css = {"all": ["ledger/admin.css"]}

    def column_displays(self) -> Mapping[str, Callable[[Model], str]]:
        return {name: money(name, currency=currency) for name, currency in self.money_fields.items()}


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
