"""Redis connections shared by the gateway's modules.

Short socket timeouts everywhere: a dead Redis must cost a request at most ~50 ms, never
hang it. Callers treat any RedisError as "Redis unavailable" and degrade.
"""

from __future__ import annotations

import asyncio
import threading
import time

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


class RedisGate:
    """Shared by every user of Redis in this process: once one of them finds Redis dead
    or hung, the others skip it too for a second, so a request never pays the timeout
    twice (rate limiter, then cache). The first call after the pause tries again."""

    PAUSE = 1.0  # seconds

    def __init__(self) -> None:
        self.closed_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() >= self.closed_until

    def pause(self) -> None:
        self.closed_until = time.monotonic() + self.PAUSE

    def reset(self) -> None:
        self.closed_until = 0.0


redis_gate = RedisGate()
