"""Looking up API keys, with a short-lived in-process copy.

Authentication must not cost a database round trip per request: a key seen once is kept
in process memory for GATEWAY_KEY_CACHE_TTL seconds. A revocation or edit is published on
the events channel so every process drops its copy at once; the TTL bounds the damage if
that message is ever lost.

While the database is unreachable, a key seen before keeps working from memory for up to
GATEWAY_KEY_MAX_STALENESS seconds after it was last read (revocation events still drop
it); a key not in memory is answered 503 with Retry-After, never 500. A hash found absent
is remembered for GATEWAY_KEY_NEGATIVE_TTL seconds, so a flood of made-up keys costs one
query per distinct key per interval; creating a key publishes `key_changed`, which drops
that memory at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from apps.stats import metrics
from gateway_site import events, runtime
from gateway_site.db import close_stale_connection
from gateway_site.errors import InvalidApiKey, ServiceUnavailable
from gateway_site.quiet_log import QuietLog

logger = logging.getLogger(__name__)

MAX_CACHED_KEYS = 10_000
MAX_ABSENT_HASHES = 10_000  # 64-byte hashes: under 2 MB however many made-up keys arrive
DATABASE_PAUSE = 1.0  # seconds without key queries after one failed
RETRY_AFTER_SECONDS = 5


NO_MODEL = ""  # a name no request can use: a key and team whose model lists do not overlap


@dataclass(frozen=True)
class Budget:
    """A spend limit in USD per period ("" lifetime, "day", "month": UTC), of a key or a team."""

    scope: str  # "key" or "team"
    owner_id: int  # the key's or the team's row id (the usage records are read by it)
    name: str  # for messages: the key's name or the team's
    counter_id: str  # names its spend counter; never a raw key
    limit_usd: Decimal
    period: str = ""
    soft_alert_fraction: float | None = None


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
    # The team's bounds are already applied to allowed_models, rpm and tpm above.
    team_id: int | None = None
    team_name: str = ""
    budgets: tuple[Budget, ...] = ()  # the key's own, then its team's

    @property
    def masked(self) -> str:
        return f"{self.prefix}…"

    def is_usable(self) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > timezone.now())

    def may_use_model(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models


class KeyCache:
    """Keys seen lately, and hashes found absent lately: a part of the process's runtime
    (gateway_site/runtime.py). Both are bounded; the oldest entries go first."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[float, KeyInfo]] = OrderedDict()
        self.absent: OrderedDict[str, float] = OrderedDict()
        # Bumped by every forget/clear: a lookup that began before an event must not
        # store what it read, or a revocation (or a creation) racing it would be undone.
        self.generation = 0
        self.database_paused_until = 0.0
        self.read_before_resync = 0.0  # entries read before this moment must be read again

    def get(self, hashed: str) -> KeyInfo | None:
        entry = self.entries.get(hashed)
        if entry is None or entry[0] <= self.read_before_resync:
            return None
        if time.monotonic() - entry[0] > settings.GATEWAY_KEY_CACHE_TTL:
            return None
        return entry[1]

    def get_stale(self, hashed: str) -> KeyInfo | None:
        """The key as last read, however old, up to GATEWAY_KEY_MAX_STALENESS."""
        entry = self.entries.get(hashed)
        if entry is None or time.monotonic() - entry[0] > settings.GATEWAY_KEY_MAX_STALENESS:
            return None
        return entry[1]

    def is_absent(self, hashed: str) -> bool:
        found_at = self.absent.get(hashed)
        return found_at is not None and time.monotonic() - found_at <= settings.GATEWAY_KEY_NEGATIVE_TTL

    def remember(self, hashed: str, info: KeyInfo | None, *, generation: int) -> None:
        """Stores what a lookup read (None: no such key), unless an event came meanwhile."""
        if generation != self.generation:
            return
        self.entries.pop(hashed, None)
        self.absent.pop(hashed, None)
        table = self.absent if info is None else self.entries
        table[hashed] = time.monotonic() if info is None else (time.monotonic(), info)
        if len(table) > (MAX_ABSENT_HASHES if info is None else MAX_CACHED_KEYS):
            table.popitem(last=False)

    def forget(self, hashed: str) -> None:
        self.generation += 1
        self.entries.pop(hashed, None)
        self.absent.pop(hashed, None)

    def clear(self) -> None:
        self.generation += 1
        self.entries.clear()
        self.absent.clear()

    def expire(self) -> None:
        """Every key must be read again before it is trusted as fresh; while the database
        is unreachable the copies still serve, within GATEWAY_KEY_MAX_STALENESS."""
        self.generation += 1
        self.read_before_resync = time.monotonic()
        self.absent.clear()

    def database_is_paused(self) -> bool:
        return time.monotonic() < self.database_paused_until

    def database_failed(self) -> None:
        # One failed query pauses lookups for a moment: during an outage every request
        # would otherwise pay a connection attempt (and a thread hop) to learn the same.
        self.database_paused_until = time.monotonic() + DATABASE_PAUSE


def key_hash(raw_key: str) -> str:
    """What is stored of a key. A plain SHA-256 is enough: keys carry 256 bits of
    randomness, so no slow hash is needed against guessing, and a lookup stays one
    indexed query."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _from_model(api_key) -> KeyInfo:
    team = api_key.team
    return KeyInfo(
        id=api_key.pk,
        name=api_key.name,
        prefix=api_key.prefix,
        key_hash=api_key.key_hash,
        is_admin=api_key.is_admin,
        rpm=_stricter(api_key.rpm, team.rpm if team else None),
        tpm=_stricter(api_key.tpm, team.tpm if team else None),
        allowed_models=_narrowed(api_key.allowed_models, team.allowed_models if team else None),
        namespace=api_key.namespace,
        expires_at=api_key.expires_at,
        revoked=api_key.revoked_at is not None,
        team_id=team.pk if team else None,
        team_name=team.name if team else "",
        budgets=tuple(budget for budget in (_budget("key", api_key), _budget("team", team)) if budget),
    )


def _stricter(own: int | None, team: int | None) -> int | None:
    return min(own, team) if own and team else own or team


def _narrowed(own: list | None, team: list | None) -> frozenset[str]:
    """Empty means every model, so an empty list narrows nothing; two lists that share no
    model leave the key none."""
    own_set, team_set = frozenset(own or ()), frozenset(team or ())
    if own_set and team_set:
        return own_set & team_set or frozenset({NO_MODEL})
    return own_set or team_set


def _budget(scope: str, owner) -> Budget | None:
    if owner is None or owner.budget_usd is None:
        return None
    # Not the row id alone: ids repeat when a database is recreated while Redis still holds
    # the old counters (a key's hash, a team's creation instant tell them apart).
    if scope == "key":
        counter_id = owner.key_hash[:16]
    else:
        counter_id = f"{owner.pk}-{int(owner.created_at.timestamp() * 1_000_000)}"
    return Budget(scope, owner.pk, owner.name, counter_id, owner.budget_usd, owner.budget_period,
                  owner.soft_alert_fraction)


def _load(hashed: str) -> KeyInfo | None:
    from apps.keys.models import ApiKey

    close_stale_connection()
    api_key = ApiKey.objects.select_related("team").filter(key_hash=hashed).first()
    return _from_model(api_key) if api_key else None


def _checked(raw_key: str, hashed: str, info: KeyInfo | None) -> KeyInfo:
    # The stored hash is compared in constant time even though it was found by hash.
    if info is None or not hmac.compare_digest(info.key_hash, hashed) or not info.is_usable():
        raise InvalidApiKey()
    return info


def key_lookup(raw_key: str) -> KeyInfo:
    """Returns the key's info or raises InvalidApiKey (missing, unknown, revoked, expired),
    or ServiceUnavailable (database unreachable and the key not in memory)."""
    if not raw_key:
        raise InvalidApiKey()
    events.ensure_listener()
    hashed = key_hash(raw_key)
    cache = runtime.part(KeyCache)
    answered, info = _from_memory(cache, hashed)
    if not answered:
        generation = cache.generation
        try:
            info = _load(hashed)
        except DatabaseError as exc:
            info = _load_failed(cache, hashed, exc)
        else:
            cache.remember(hashed, info, generation=generation)
    return _checked(raw_key, hashed, info)


async def akey_lookup(raw_key: str) -> KeyInfo:
    """key_lookup for the event loop: the database is read off it, and only on a miss."""
    if not raw_key:
        raise InvalidApiKey()
    hashed = key_hash(raw_key)
    cache = runtime.part(KeyCache)
    answered, info = _from_memory(cache, hashed)
    if not answered:
        events.ensure_listener()
        generation = cache.generation
        try:
            info = await sync_to_async(_load, thread_sensitive=False)(hashed)
        except DatabaseError as exc:
            info = _load_failed(cache, hashed, exc)
        else:
            cache.remember(hashed, info, generation=generation)
    return _checked(raw_key, hashed, info)


def _from_memory(cache: KeyCache, hashed: str) -> tuple[bool, KeyInfo | None]:
    """(answered, info): whether memory settles the lookup without the database: a key
    seen lately, a hash known absent, or (the database paused) a stale copy or a 503."""
    info = cache.get(hashed)
    if info is not None or cache.is_absent(hashed):
        return True, info
    if cache.database_is_paused():
        return True, _stale_or_unavailable(cache, hashed)
    return False, None


def _load_failed(cache: KeyCache, hashed: str, exc: DatabaseError) -> KeyInfo:
    _database_failed(cache, exc)
    return _stale_or_unavailable(cache, hashed)


def _database_failed(cache: KeyCache, exc: DatabaseError) -> None:
    cache.database_failed()
    metrics.child(metrics.DEPENDENCY_ERRORS, "database").inc()
    runtime.part(QuietLog).warning(
        logger, "key_lookup_database", "key lookup cannot reach the database (%s: %s); "
        "keys seen in the last %.0f s are served from memory, others get 503",
        type(exc).__name__, str(exc).strip(), settings.GATEWAY_KEY_MAX_STALENESS,
    )


def _stale_or_unavailable(cache: KeyCache, hashed: str) -> KeyInfo:
    info = cache.get_stale(hashed)
    if info is None:
        raise _unavailable()
    metrics.KEYS_SERVED_STALE.inc()
    return info


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The key store is unreachable and this key is not known to this process; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def key_invalidate(*, key_hash_value: str) -> None:
    events.publish({"type": "key_changed", "key_hash": key_hash_value})


def _forget(event: dict) -> None:
    runtime.part(KeyCache).forget(event.get("key_hash", ""))


def _expire_all(event: dict) -> None:
    # Events may have been missed while the listener was away from Redis: re-read every
    # key. Not dropped: a Redis blip during a database outage would then lock out every
    # client; a revocation missed in that double outage applies when the database answers.
    runtime.part(KeyCache).expire()


events.on_event("key_changed", _forget)
events.on_event("resync", _expire_all)
