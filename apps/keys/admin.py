from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from apps.keys.models import ApiKey
from apps.keys.services import DISPLAY_PREFIX_LENGTH, key_changed, key_generate, key_hash, key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "is_admin", "rpm", "tpm", "created_at", "expires_at", "status")
    list_filter = ("is_admin",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "revoked_at")
    fields = (
        "name", "prefix", "is_admin", "rpm", "tpm", "allowed_models", "cache_namespace",
        "expires_at", "created_at", "revoked_at",
    )
    actions = ["revoke_selected"]

    @admin.display(description="status")
    def status(self, obj: ApiKey) -> str:
        if obj.revoked_at:
            return "revoked"
        if obj.expires_at and obj.expires_at <= timezone.now():
            return "expired"
        return "active"

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        if not change:
            # The raw key is shown once, in this message; only its hash is stored.
            raw_key = key_generate()
            obj.prefix = raw_key[:DISPLAY_PREFIX_LENGTH]
            obj.key_hash = key_hash(raw_key)
            super().save_model(request, obj, form, change)
            messages.warning(request, f"New API key (copy it now, it will not be shown again): {raw_key}")
            return
        super().save_model(request, obj, form, change)
        key_changed(api_key=obj)

    def delete_model(self, request, obj: ApiKey) -> None:
        key_changed(api_key=obj)
        super().delete_model(request, obj)

    @admin.action(description="Revoke selected API keys")
    def revoke_selected(self, request, queryset) -> None:
        for api_key in queryset:
            key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
