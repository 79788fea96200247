"""Writes on API keys and teams: create, revoke, update limits."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.keys.models import ApiKey, BudgetPeriod, Team
from apps.keys.registry import key_hash, key_invalidate

KEY_PREFIX = "pgw-"
DISPLAY_PREFIX_LENGTH = 12


def key_generate() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_create(
    *,
    name: str,
    is_admin: bool = False,
    rpm: int | None = None,
    tpm: int | None = None,
    expires_in_days: int | None = None,
    allowed_models: list[str] | None = None,
    cache_namespace: str = "",
    team: Team | None = None,
    budget_usd: Decimal | None = None,
    budget_period: str = BudgetPeriod.LIFETIME,
) -> tuple[ApiKey, str]:
    """Returns the stored key and the raw key, which exists nowhere else afterwards."""
    raw_key = key_generate()
    expires_at = timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    api_key = ApiKey.objects.create(
        name=name,
        prefix=raw_key[:DISPLAY_PREFIX_LENGTH],
        key_hash=key_hash(raw_key),
        is_admin=is_admin,
        rpm=rpm,
        tpm=tpm,
        expires_at=expires_at,
        allowed_models=allowed_models or [],
        cache_namespace=cache_namespace,
        team=team,
        budget_usd=budget_usd,
        budget_period=budget_period,
    )
    # Every process may remember this hash as absent (a client tried it a moment ago):
    # the new key must work at once, not after GATEWAY_KEY_NEGATIVE_TTL.
    transaction.on_commit(lambda: key_invalidate(key_hash_value=api_key.key_hash))
    return api_key, raw_key


def key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    transaction.on_commit(lambda: key_invalidate(key_hash_value=api_key.key_hash))
    return api_key


def key_changed(*, api_key: ApiKey) -> None:
    """Call after any edit: every process drops its cached copy of the key."""
    transaction.on_commit(lambda: key_invalidate(key_hash_value=api_key.key_hash))


def key_ensure_admin(*, name: str = "admin") -> str | None:
    """Creates a first admin key when there is none; returns its raw value, else None."""
    if ApiKey.objects.filter(is_admin=True, revoked_at__isnull=True).exists():
        return None
    _, raw_key = key_create(name=name, is_admin=True)
    return raw_key


def team_create(
    *,
    name: str,
    budget_usd: Decimal | None = None,
    budget_period: str = BudgetPeriod.LIFETIME,
    allowed_models: list[str] | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    soft_alert_fraction: float | None = None,
) -> Team:
    return Team.objects.create(
        name=name, budget_usd=budget_usd, budget_period=budget_period, allowed_models=allowed_models or [],
        rpm=rpm, tpm=tpm, soft_alert_fraction=soft_alert_fraction,
    )


def team_changed(*, team: Team) -> None:
    """Call after any edit of a team: its keys' cached copies carry the team's bounds, so
    every process drops them."""
    hashes = list(ApiKey.objects.filter(team=team).values_list("key_hash", flat=True))

    def publish() -> None:
        for hashed in hashes:
            key_invalidate(key_hash_value=hashed)

    transaction.on_commit(publish)


def key_rotate(*, api_key: ApiKey, grace: dt.timedelta = dt.timedelta(0)) -> tuple[ApiKey, str]:
    """A new key with the same settings (and the same cache namespace, so cached answers
    stay shared); the old key is revoked now, or expires after `grace` so clients can
    switch over. Returns the new key and its raw key, shown once."""
    with transaction.atomic():
        new_key, raw_key = key_create(
            name=api_key.name, is_admin=api_key.is_admin, rpm=api_key.rpm, tpm=api_key.tpm,
            allowed_models=list(api_key.allowed_models), cache_namespace=api_key.namespace,
        )
        new_key.expires_at = api_key.expires_at
        new_key.save(update_fields=["expires_at"])
        if grace <= dt.timedelta(0):
            key_revoke(api_key=api_key)
        else:
            ends = timezone.now() + grace
            if api_key.expires_at is None or api_key.expires_at > ends:
                api_key.expires_at = ends
                api_key.save(update_fields=["expires_at"])
            key_changed(api_key=api_key)
    return new_key, raw_key
