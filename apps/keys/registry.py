"""Looking up API keys, with a short-lived in-process copy.

Authentication must not cost a database round trip per request: a key seen once is kept
in process memory for GATEWAY_KEY_CACHE_TTL seconds. A revocation or edit is published on
the events channel so every process drops its copy at once; the TTL bounds the damage if
that message is ever lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from gateway_site import events, runtime
from gateway_site.db import close_stale_connection
from gateway_site.errors import InvalidApiKey

MAX_CACHED_KEYS = 10_000


@dataclass(frozen=True)
class KeyInfo:
    """What a request needs to know about its key; never holds the raw key."""

    id: int
    name: str
    prefix: str
    key_hash: str
    is_admin: bool
    rpm: int | None
    tpm: int | None
    allowed_models: frozenset[str]
    namespace: str
    expires_at: dt.datetime | None
    revoked: bool

    @property
    def masked(self) -> str:
        return f"{self.prefix}…"

    def is_usable(self) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > timezone.now())

    def may_use_model(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models


class KeyCache:
    """Keys seen lately, by hash: a part of the process's runtime (gateway_site/runtime.py)."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, KeyInfo]] = {}

    def get(self, hashed: str) -> KeyInfo | None:
        entry = self.entries.get(hashed)
        if entry is None or time.monotonic() - entry[0] > settings.GATEWAY_KEY_CACHE_TTL:
            return None
        return entry[1]

    def remember(self, hashed: str, info: KeyInfo) -> None:
        if len(self.entries) >= MAX_CACHED_KEYS:
            self.entries.clear()  # crude but bounded; the next requests reload what they need
        self.entries[hashed] = (time.monotonic(), info)

    def forget(self, hashed: str) -> None:
        self.entries.pop(hashed, None)

    def clear(self) -> None:
        self.entries.clear()


def key_hash(raw_key: str) -> str:
    """What is stored of a key. A plain SHA-256 is enough: keys carry 256 bits of
    randomness, so no slow hash is needed against guessing, and a lookup stays one
    indexed query."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _from_model(api_key) -> KeyInfo:
    return KeyInfo(
        id=api_key.pk,
        name=api_key.name,
        prefix=api_key.prefix,
        key_hash=api_key.key_hash,
        is_admin=api_key.is_admin,
        rpm=api_key.rpm,
        tpm=api_key.tpm,
        allowed_models=frozenset(api_key.allowed_models or ()),
        namespace=api_key.namespace,
        expires_at=api_key.expires_at,
        revoked=api_key.revoked_at is not None,
    )


def _load(hashed: str) -> KeyInfo | None:
    from apps.keys.models import ApiKey

    close_stale_connection()
    api_key = ApiKey.objects.filter(key_hash=hashed).first()
    return _from_model(api_key) if api_key else None


def _checked(raw_key: str, hashed: str, info: KeyInfo | None) -> KeyInfo:
    # The stored hash is compared in constant time even though it was found by hash.
    if info is None or not hmac.compare_digest(info.key_hash, hashed) or not info.is_usable():
        raise InvalidApiKey()
    return info


def key_lookup(raw_key: str) -> KeyInfo:
    """Returns the key's info or raises InvalidApiKey (missing, unknown, revoked, expired)."""
    if not raw_key:
        raise InvalidApiKey()
    events.ensure_listener()
    hashed = key_hash(raw_key)
    cache = runtime.part(KeyCache)
    info = cache.get(hashed)
    if info is None:
        info = _load(hashed)
        if info is not None:
            cache.remember(hashed, info)
    return _checked(raw_key, hashed, info)


async def akey_lookup(raw_key: str) -> KeyInfo:
    if not raw_key:
        raise InvalidApiKey()
    hashed = key_hash(raw_key)
    cache = runtime.part(KeyCache)
    info = cache.get(hashed)
    if info is None:
        events.ensure_listener()
        info = await sync_to_async(_load, thread_sensitive=False)(hashed)
        if info is not None:
            cache.remember(hashed, info)
    return _checked(raw_key, hashed, info)


def key_invalidate(*, key_hash_value: str) -> None:
    events.publish({"type": "key_changed", "key_hash": key_hash_value})


def _forget(event: dict) -> None:
    runtime.part(KeyCache).forget(event.get("key_hash", ""))


def _forget_all(event: dict) -> None:
    runtime.part(KeyCache).clear()


events.on_event("key_changed", _forget)
events.on_event("resync", _forget_all)
