"""Redis connections shared by the gateway's modules.

Short socket timeouts everywhere: a dead Redis must cost a request at most ~50 ms, never
hang it. Callers treat any RedisError as "Redis unavailable" and degrade.
"""

from __future__ import annotations

import asyncio
import threading

import redis
import redis.asyncio as aredis
from django.conf import settings

_sync_client: redis.Redis | None = None
_async_clients: dict[int, aredis.Redis] = {}
_lock = threading.Lock()


def redis_configured() -> bool:
    return bool(settings.REDIS_URL)


def _options() -> dict:
    timeout = settings.REDIS_SOCKET_TIMEOUT
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "health_check_interval": 0}


def get_sync_redis() -> redis.Redis:
    global _sync_client
    with _lock:
        if _sync_client is None:
            _sync_client = redis.Redis.from_url(settings.REDIS_URL, **_options())
        return _sync_client


def get_async_redis() -> aredis.Redis:
    """One client per event loop: redis.asyncio connections belong to the loop that made them."""
    loop_id = id(asyncio.get_running_loop())
    client = _async_clients.get(loop_id)
    if client is None:
        client = _async_clients[loop_id] = aredis.Redis.from_url(settings.REDIS_URL, **_options())
    return client
