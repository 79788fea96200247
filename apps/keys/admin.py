from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from apps.keys.models import ApiKey, Team
from apps.keys.services import DISPLAY_PREFIX_LENGTH, key_changed, key_generate, key_hash, key_revoke, team_changed


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "budget_usd", "budget_period", "rpm", "tpm", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("members",)
    fields = ("name", "members", "allowed_models", "rpm", "tpm", "budget_usd", "budget_period", "soft_alert_fraction")

    def get_queryset(self, request):
        teams = super().get_queryset(request)
        return teams if request.user.is_superuser else teams.filter(members=request.user)

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        team_changed(team=form.instance)  # its keys' cached copies carry its bounds


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "team", "is_admin", "rpm", "tpm", "budget_usd", "created_at", "expires_at", "status")
    list_filter = ("is_admin", "team")
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "revoked_at")
    fields = (
        "name", "prefix", "team", "is_admin", "rpm", "tpm", "allowed_models", "cache_namespace",
        "budget_usd", "budget_period", "soft_alert_fraction", "expires_at", "created_at", "revoked_at",
    )
    actions = ["revoke_selected"]

    def get_queryset(self, request):
        # A team's members see its keys; a superuser sees every key.
        keys = super().get_queryset(request).select_related("team")
        return keys if request.user.is_superuser else keys.filter(team__members=request.user)

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
