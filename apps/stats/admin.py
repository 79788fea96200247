from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

from apps.stats.models import UsageRecord


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


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """Read-only: usage is written by the gateway, never edited by hand."""

    list_display = (
        "created_at", "key_prefix", "model", "provider", "status_code", "error_code", "cache", "stream",
        "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms", "ttft_ms",
    )
    list_filter = ("status_code", "provider", "cache", "stream", "model")
    search_fields = ("request_id", "key_prefix")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
