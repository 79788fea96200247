from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import redirect

from apps.cache.models import SemanticCacheEntry
from apps.cache.semantic import unavailable_reason


@admin.register(SemanticCacheEntry)
class SemanticCacheEntryAdmin(admin.ModelAdmin):
    """Find entries by prompt and delete them; the gateway writes them, nobody edits them."""

    list_display = ("question_start", "namespace", "created_at", "expires_at")
    search_fields = ("question",)
    list_filter = ("namespace",)
    fields = ("namespace", "question", "completion", "created_at", "expires_at")
    readonly_fields = fields
    ordering = ("-created_at",)
    show_full_result_count = False

    @admin.display(description="prompt")
    def question_start(self, entry: SemanticCacheEntry) -> str:
        return entry.question[:120]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        reason = unavailable_reason()  # no pgvector: no table to list
        if reason is not None:
            messages.warning(request, f"The semantic cache is unavailable: {reason}")
            return redirect("admin:console-cache")
        return super().changelist_view(request, extra_context)
