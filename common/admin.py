"""Admin building blocks with no domain: read-only model admins for big tables, exact-match
search on ids, short UUIDs with the full value in a tooltip."""

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from common.parsing import parse_id, parse_ids

SHORT_ID_CHARS = 8  # the last hex digits of a UUID: the random part, also for UUIDv7 ids


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


class ValidActionIdsMixin:
    """For a ModelAdmin with actions: Django filters pk__in on the posted ids as they are, and
    "²" or a 20-digit number would be a 500. Ids that cannot be ids are dropped first (then
    they are simply not found)."""

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        posted = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        valid = [str(pk) for pk in parse_ids(posted)]
        if valid != posted:
            request.POST = request.POST.copy()
            request.POST.setlist(helpers.ACTION_CHECKBOX_NAME, valid)
        return super().response_action(request, queryset)


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


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Listing and viewing only: no add, change or delete, and no delete_selected action."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    search_int_fields: Sequence[str] = ()
    search_uuid_fields: Sequence[str] = ()
    search_text_fields: Sequence[str] = ()

    def get_fields(self, request: HttpRequest, obj=None) -> list:
        """The detail page: every column (also ids and timestamps the form would hide), each
        through its entry in `column_displays`, then the admin's own read-only entries."""
        if self.fields:
            return list(self.fields)
        shown = [self._column_displays.get(field.name, field.name) for field in self.model._meta.concrete_fields]
        return shown + [name for name in self.readonly_fields if name not in shown]

    def column_displays(self) -> Mapping[str, Callable[[Model], str]]:
        """{column: the read-only entry that shows it on the detail page}; plain values by default."""
        return {}

    @cached_property
    def _column_displays(self) -> Mapping[str, Callable[[Model], str]]:
        # Built once: the admin matches read-only entries by identity between its calls.
        return self.column_displays()

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
