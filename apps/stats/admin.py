"""The request log: every recorded request, filterable, exportable as CSV."""

from __future__ import annotations

import csv
import io

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from apps.keys.models import ApiKey, Team
from apps.stats.models import UsageRecord
from apps.stats.selectors import configured_providers
from gateway_site.gateway_config import ConfigError, get_config

MAX_EXPORT_ROWS = 100_000  # one CSV holds at most this many records, newest first
EXPORT_COLUMNS = (
    "created_at", "request_id", "key_name", "key_prefix", "model", "provider", "status_code", "error_code",
    "error_message", "cache", "stream", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd",
    "latency_ms", "ttft_ms", "attempts", "fallback_from",
)


class EstimatedCountPaginator(Paginator):
    """COUNT(*) over millions of usage rows would make every page slow; an unfiltered
    list uses PostgreSQL's own row estimate instead."""

    @cached_property
    def count(self) -> int:
        query = self.object_list.query
        if query.where:
            return super().count
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [UsageRecord._meta.db_table])
            row = cursor.fetchone()
        estimate = row[0] if row else -1
        return estimate if estimate > 10_000 else super().count


def visible_teams(request: HttpRequest):
    """The teams whose usage this console user may see: all for a superuser, else the
    teams they are a member of."""
    teams = Team.objects.all()
    return teams if request.user.is_superuser else teams.filter(members=request.user)


# Choices come from the keys and teams tables and the configuration, never from a DISTINCT
# over the usage table (millions of rows).
class KeyFilter(admin.SimpleListFilter):
    title = "key"
    parameter_name = "key"

    def lookups(self, request, model_admin):
        keys = ApiKey.objects.order_by("name")
        if not request.user.is_superuser:
            keys = keys.filter(team__in=visible_teams(request))
        return [(str(pk), name) for pk, name in keys.values_list("pk", "name")[:200]]

    def queryset(self, request, queryset):
        return queryset.filter(api_key_id=self.value()) if self.value() else queryset


class TeamFilter(admin.SimpleListFilter):
    """The team the key belonged to when the request was made (the record's team_id)."""

    title = "team"
    parameter_name = "team"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in visible_teams(request).order_by("name").values_list("pk", "name")[:200]]

    def queryset(self, request, queryset):
        return queryset.filter(team_id=self.value()) if self.value() else queryset


class ModelFilter(admin.SimpleListFilter):
    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        try:
            return [(name, name) for name in sorted(get_config().models)]
        except ConfigError:
            return []

    def queryset(self, request, queryset):
        return queryset.filter(model=self.value()) if self.value() else queryset


class ProviderFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return [(name, name) for name in configured_providers()]

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"
    RANGES = {"2xx": (200, 299), "4xx": (400, 499), "5xx": (500, 599)}

    def lookups(self, request, model_admin):
        return (("2xx", "success (2xx)"), ("4xx", "client errors (4xx)"), ("429", "throttled (429)"),
                ("499", "client left (499)"), ("5xx", "server errors (5xx)"))

    def queryset(self, request, queryset):
        value = self.value()
        if value in self.RANGES:
            low, high = self.RANGES[value]
            return queryset.filter(status_code__gte=low, status_code__lte=high)
        if value in ("429", "499"):
            return queryset.filter(status_code=int(value))
        return queryset


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """Read-only: usage is written by the gateway, never edited by hand."""

    list_display = (
        "created_at", "key", "model", "provider", "status_code", "error_code", "cache_outcome", "stream",
        "total_tokens", "cost", "latency", "error",
    )
    list_filter = (KeyFilter, TeamFilter, ModelFilter, ProviderFilter, StatusFilter, "cache", "stream")
    search_fields = ("request_id", "key_prefix", "api_key__name", "error_message")
    list_select_related = ("api_key",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    change_list_template = "console/usagerecord_change_list.html"
    fields = (
        "created_at", "request_id", "key", "model", "fallback_from", "provider", "status_code", "error_code",
        "error_message", "cache_outcome", "stream", "attempts", "prompt_tokens", "completion_tokens",
        "total_tokens", "tokens_estimated", "cost", "latency", "time_to_first_token",
    )
    readonly_fields = fields

    @admin.display(description="key", ordering="api_key__name")
    def key(self, record: UsageRecord) -> str:
        if record.api_key is None:
            return f"{record.key_prefix}…" if record.key_prefix else "–"
        url = reverse("admin:keys_apikey_change", args=[record.api_key_id])
        return format_html('<a href="{}">{}</a>', url, record.api_key.name)

    @admin.display(description="cache", ordering="cache")
    def cache_outcome(self, record: UsageRecord) -> str:
        return record.cache or "miss"

    @admin.display(description="cost", ordering="cost_usd")
    def cost(self, record: UsageRecord) -> str:
        return dollars(record.cost_usd)

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, record: UsageRecord) -> str:
        return milliseconds(record.latency_ms)

    @admin.display(description="time to first token")
    def time_to_first_token(self, record: UsageRecord) -> str:
        return milliseconds(record.ttft_ms) if record.ttft_ms is not None else "–"

    @admin.display(description="error")
    def error(self, record: UsageRecord) -> str:
        return record.error_message[:80]

    def get_queryset(self, request):
        # A team's members see its requests; a superuser sees every request.
        records = super().get_queryset(request)
        if request.user.is_superuser:
            return records
        return records.filter(team_id__in=visible_teams(request).values("pk"))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        export = path("export.csv", self.admin_site.admin_view(self.export_view), name="stats_usagerecord_export")
        return [export, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        query = request.GET.urlencode()
        export_url = reverse("admin:stats_usagerecord_export") + (f"?{query}" if query else "")
        return super().changelist_view(request, {**(extra_context or {}), "export_url": export_url})

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The records the list shows with the same filters and search, as CSV."""
        records = self.get_changelist_instance(request).get_queryset(request)[:MAX_EXPORT_ROWS]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        for record in records.iterator(chunk_size=2000):
            writer.writerow(_export_row(record))
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="requests.csv"'
        return response


def dollars(value) -> str:
    value = float(value or 0)
    if value == 0:
        return "$0"
    return f"${value:,.6f}" if value < 0.01 else f"${value:,.4f}"


def milliseconds(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _export_row(record: UsageRecord) -> list:
    values = {
        "key_name": record.api_key.name if record.api_key_id and record.api_key else "",
        "cache": record.cache or "miss",
        "latency_ms": round(record.latency_ms, 1),
        "ttft_ms": round(record.ttft_ms, 1) if record.ttft_ms is not None else "",
        "created_at": record.created_at.isoformat(),
    }
    return [values[name] if name in values else getattr(record, name) for name in EXPORT_COLUMNS]
