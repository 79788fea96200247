"""The exact cache: complete answers in Redis, keyed by canonical.exact_key.

Keys are laid out as django-redis lays them out (`pgw:1:cache:exact:<ns>:<sha256>`,
from the default cache's KEY_PREFIX and version), so the admin tools and `clear_cache`
see them in our prefix, but the request path talks to Redis through the lean pipelined
client of gateway_site/fast_redis.py: one GET per lookup, no thread hop, no pickling.
Values are orjson, zlib-compressed past a few hundred bytes, behind a one-byte marker.
Without REDIS_URL the same bytes go to Django's local-memory cache (one process only).

A dead or hung Redis must not slow requests down: every call is capped at the socket
timeout (50 ms by default; fast_redis drops a connection that stops answering), and
after a connection error, or a few timeouts in a row (one, if it failed before), Redis
is skipped for a second. The first request after that second tries again, so caching resumes by
itself.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import zlib
from typing import Any

import orjson
import redis
from django.conf import settings
from django.core.cache import caches

from apps.cache.canonical import namespace_token
from gateway_site import runtime
from gateway_site.fast_redis import FastRedis, get_fast_redis
from gateway_site.quiet_log import QuietLog
from gateway_site.redis_client import (
    REDIS_BREAKER,
    redis_breaker,
    redis_call_failed,
    redis_configured,
)
from gateway_site.redis_topology import sync_redis

logger = logging.getLogger("gateway.cache")

COMPRESS_FROM = 256  # bytes; below this zlib saves nothing worth its header
_RAW, _ZLIB = b"j", b"z"


def encode(completion: dict[str, Any]) -> bytes:
    data = orjson.dumps(completion)
    if len(data) < COMPRESS_FROM:
        return _RAW + data
    return _ZLIB + zlib.compress(data, 3)


def decode(value: bytes) -> dict[str, Any]:
    marker, body = value[:1], value[1:]
    return orjson.loads(zlib.decompress(body) if marker == _ZLIB else body)


_make_key = None


def full_key(key: str) -> str:
    """The Redis key django-redis would use for `key` (KEY_PREFIX:VERSION:key)."""
    global _make_key
    if _make_key is None:
        # caches["default"] builds a new backend per async context: look it up once.
        _make_key = caches["default"].make_key
    return _make_key(key)


async def acall(*command) -> Any:
    """Runs one Redis command within the time budget (fast_redis enforces it); None if
    Redis is unavailable."""
    [reply] = await acall_all(command)
    return reply


async def acall_all(*commands: tuple) -> list[Any]:
    """Runs several commands in one write (one round trip); a None for each if Redis is
    unavailable."""
    client = await _client()
    if client is None:
        return [None] * len(commands)
    replies = [client.submit(*command) for command in commands]
    return [await _reply(reply) for reply in replies]


async def aprefetch(key: str) -> asyncio.Future | None:
    """Sends the GET for `key` without waiting for the reply, so that it leaves in the same
    write as the rate limiter's check (one round trip, and one timeout if Redis hangs, for
    both); `aget(key, prefetched=...)` reads the reply. None without Redis or while paused.
    Never suspends when the connection is up, so nothing else is sent in between."""
    client = await _client() if redis_configured() else None
    if client is None:
        return None
    reply = client.submit("GET", full_key(key))
    reply.add_done_callback(_retrieve)  # a refused request never reads it: no "never retrieved" warning
    return reply


async def _client() -> FastRedis | None:
    """The connection, or None while Redis is paused or unreachable."""
    if not redis_breaker().allow():  # shared with the rate limiter
        return None
    try:
        return await get_fast_redis()
    except Exception as exc:  # RedisError, OSError: never fail the request
        _failed(exc)
        return None


async def _reply(reply: asyncio.Future) -> Any:
    try:
        result = await reply
    except Exception as exc:  # RedisError, OSError, timeouts, or worse: never fail the request
        _failed(exc)
        return None
    redis_breaker().succeeded()
    return result


def _failed(exc: BaseException) -> None:
    if redis_call_failed(exc):
        runtime.part(QuietLog).warning(
            logger, "exact_redis", "Redis unavailable (%r); exact cache paused for %.0f s at a time", exc, REDIS_BREAKER.cooldown,
        )


def _retrieve(reply: asyncio.Future) -> None:
    if not reply.cancelled():
        reply.exception()


async def aget(key: str, *, prefetched: asyncio.Future | None = None) -> dict[str, Any] | None:
    if prefetched is not None:
        value = await _reply(prefetched)
    elif redis_configured():
        value = await acall("GET", full_key(key))
    else:
        value = await caches["default"].aget(key)
    if value is None:
        return None
    try:
        return decode(value)
    except (zlib.error, orjson.JSONDecodeError):
        logger.warning("unreadable exact-cache entry %s ignored", key)
        return None


async def aset(key: str, completion: dict[str, Any], *, ttl: int) -> bool:
    value = encode(completion)
    if redis_configured():
        return bool(await acall("SET", full_key(key), value, "EX", ttl))
    await caches["default"].aset(key, value, ttl)
    return True


# --- administration (sync: management commands and admin views) ----------------------

ADMIN_TIMEOUT = 2.0  # seconds; an operator can wait longer than a request
SCAN_BATCH = 1000
_admin_clients: dict[str, redis.Redis] = {}


def admin_redis() -> redis.Redis | redis.RedisCluster:
    url = settings.REDIS_URL
    client = _admin_clients.get(url)
    if client is None:
        client = _admin_clients[url] = sync_redis(url, socket_timeout=ADMIN_TIMEOUT, socket_connect_timeout=ADMIN_TIMEOUT)
    return client


def prefix_pattern() -> str:
    """Every key of this gateway (the cache's KEY_PREFIX), whoever in it wrote it."""
    return f"{caches['default'].key_prefix}:*"


def key_pattern(namespace: str | None = None) -> str:
    """SCAN pattern of the exact cache, or of one namespace of it (see namespace_token)."""
    middle = "*" if namespace is None else f"{namespace_token(namespace)}:*"
    return full_key(f"cache:exact:{middle}")


def _scan(client: redis.Redis, pattern: str):
    batch = []
    for key in client.scan_iter(match=pattern, count=SCAN_BATCH):
        batch.append(key)
        if len(batch) >= SCAN_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def count_keys(pattern: str) -> int:
    """Keys matching `pattern`, by SCAN (never KEYS: it blocks a shared Redis)."""
    return sum(len(batch) for batch in _scan(admin_redis(), pattern))


def exact_clear(*, namespace: str | None = None) -> int:
    """Deletes the exact cache (or one namespace of it); returns how many entries went."""
    if not redis_configured():
        return _locmem_clear(key_pattern(namespace))
    client = admin_redis()
    # UNLINK frees memory in the background; concurrent requests just miss and refill.
    return sum(client.unlink(*batch) for batch in _scan(client, key_pattern(namespace)))


def _locmem_clear(pattern: str) -> int:
    cache = caches["default"]
    # LocMemCache offers no key listing; its dict is the only way to find our keys.
    with cache._lock:
        doomed = [key for key in cache._cache if fnmatch.fnmatchcase(key, pattern)]
        for key in doomed:
            cache._delete(key)
    return len(doomed)
