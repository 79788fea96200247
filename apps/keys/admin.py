from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.keys.models import ApiKey, Team
from apps.keys.services import (
    DISPLAY_PREFIX_LENGTH, key_changed, key_generate, key_hash, key_revoke, key_rotate, team_changed,
)
from gateway_site.gateway_config import ConfigError, get_config

# Shown when the model has them (the teams and budgets work adds them to ApiKey).
OPTIONAL_FIELDS = ("team", "budget_usd", "budget_period", "soft_alert_fraction")
MAX_GRACE_HOURS = 24 * 30


def configured_models() -> list[str]:
    try:
        return sorted(get_config().models)
    except ConfigError:
        return []


class ApiKeyForm(forms.ModelForm):
    """Allowed models are picked from the configured ones; an unknown name is refused."""

    allowed_models = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: every model.",
    )

    class Meta:
        model = ApiKey
        fields = "__all__"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        known = configured_models()
        stored = [name for name in (self.initial.get("allowed_models") or []) if name not in known]
        # A stored name no longer configured is shown, so that saving refuses it visibly.
        self.fields["allowed_models"].choices = [(name, name) for name in known] + [
            (name, f"{name} (not configured)") for name in stored
        ]

    def clean_allowed_models(self) -> list[str]:
        chosen = self.cleaned_data["allowed_models"]
        unknown = sorted(set(chosen) - set(configured_models()))
        if unknown:
            raise forms.ValidationError(f"Not configured models: {', '.join(unknown)}. Untick them.")
        return chosen


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("active", "active"), ("revoked", "revoked"), ("expired", "expired"))

    def queryset(self, request, queryset):
        now = timezone.now()
        not_expired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        if self.value() == "active":
            return queryset.filter(not_expired, revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


def key_status(api_key: ApiKey) -> str:
    if api_key.revoked_at:
        return "revoked"
    if api_key.expires_at and api_key.expires_at <= timezone.now():
        return "expired"
    return "active"


def key_usage(api_key: ApiKey) -> dict[str, dict]:
    """Requests and spend in the last 24 h (hourly rollups) and 30 days (daily rollups)."""
    from apps.stats.models import KeyRollup, Span  # stats sits beside keys; read, not written

    now = timezone.now()
    windows = {"24h": (Span.HOUR, now - dt.timedelta(hours=24)), "30d": (Span.DAY, now - dt.timedelta(days=30))}
    usage = {}
    for label, (span, since) in windows.items():
        start = since.replace(minute=0, second=0, microsecond=0)
        if span == Span.DAY:
            start = start.replace(hour=0)
        sums = KeyRollup.objects.filter(key_id=api_key.pk, span=span, bucket__gte=start).aggregate(
            requests=Sum("requests"), spend=Sum("cost_usd"), tokens=Sum("total_tokens"),
        )
        usage[label] = {name: value or 0 for name, value in sums.items()}
    return usage


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
    form = ApiKeyForm
    list_display = ("name", "prefix", "status", "team", "is_admin", "rpm", "tpm", "budget_usd", "created_at", "expires_at")
    list_filter = (StatusFilter, "is_admin", "team")
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "revoked_at", "usage_24h", "usage_30d")
    change_form_template = "console/apikey_change_form.html"
    actions = ["revoke_selected"]

    def get_queryset(self, request):
        # A team's members see its keys; a superuser sees every key.
        keys = super().get_queryset(request).select_related("team")
        return keys if request.user.is_superuser else keys.filter(team__members=request.user)

    def get_fields(self, request, obj=None):
        optional = tuple(name for name in OPTIONAL_FIELDS if _has_field(name))
        usage = ("usage_24h", "usage_30d") if obj is not None else ()
        return (
            "name", "prefix", "is_admin", "rpm", "tpm", "allowed_models", *optional, "cache_namespace",
            "expires_at", "created_at", "revoked_at", *usage,
        )

    @admin.display(description="status")
    def status(self, obj: ApiKey) -> str:
        return key_status(obj)

    @admin.display(description="last 24 hours")
    def usage_24h(self, obj: ApiKey) -> str:
        return _usage_text(key_usage(obj)["24h"])

    @admin.display(description="last 30 days")
    def usage_30d(self, obj: ApiKey) -> str:
        return _usage_text(key_usage(obj)["30d"])

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.revoked_at is not None:
            return False  # a revoked key's page is read-only (a banner says why)
        return super().has_change_permission(request, obj)

    def get_urls(self):
        own = [
            path("<int:pk>/revoke/", self.admin_site.admin_view(self.revoke_view), name="keys_apikey_revoke"),
            path("<int:pk>/rotate/", self.admin_site.admin_view(self.rotate_view), name="keys_apikey_rotate"),
        ]
        return own + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        api_key = self.get_object(request, object_id)
        extra = {"key_status": key_status(api_key) if api_key else "", "max_grace_hours": MAX_GRACE_HOURS}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

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

    @staticmethod
    def _change_url(api_key: ApiKey) -> str:
        return reverse("admin:keys_apikey_change", args=[api_key.pk])

    def revoke_view(self, request: HttpRequest, pk: int):
        return require_POST(self._revoke)(request, pk)

    def _revoke(self, request: HttpRequest, pk: int):
        api_key = self._editable_key(request, pk)
        key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {api_key}: the API refuses it from now on.", messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(api_key))

    def rotate_view(self, request: HttpRequest, pk: int):
        return require_POST(self._rotate)(request, pk)

    def _rotate(self, request: HttpRequest, pk: int):
        api_key = self._editable_key(request, pk)
        try:
            hours = min(max(float(request.POST.get("grace_hours") or 0), 0), MAX_GRACE_HOURS)
        except ValueError:
            hours = 0
        new_key, raw_key = key_rotate(api_key=api_key, grace=dt.timedelta(hours=hours))
        ending = f"stops working in {hours:g} h" if hours else "is revoked"
        messages.warning(request, f"New API key (copy it now, it will not be shown again): {raw_key}")
        self.message_user(request, f"Rotated: the old key {api_key.prefix}… {ending}.", messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(new_key))

    def _editable_key(self, request: HttpRequest, pk: int) -> ApiKey:
        api_key = get_object_or_404(ApiKey, pk=pk)
        if not self.has_change_permission(request, api_key):
            raise PermissionDenied  # a revoked key: nothing left to revoke or rotate
        return api_key


def _has_field(name: str) -> bool:
    return any(field.name == name for field in ApiKey._meta.get_fields())


def _usage_text(usage: dict) -> str:
    return f"{usage['requests']:,} requests, {usage['tokens']:,} tokens, ${usage['spend']:.4f}"
