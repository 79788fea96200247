"""Redis connections shared by the gateway's modules: the sync client (pub/sub, admin,
sync callers) and the gate every Redis user consults. The request path's async commands
go through gateway_site/fast_redis.py.

Short socket timeouts everywhere: a dead Redis must cost a request at most ~50 ms, never
hang it. Callers treat any RedisError as "Redis unavailable" and degrade.
"""

from __future__ import annotations

import threading
import time

import redis
from django.conf import settings

_sync_client: redis.Redis | None = None
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


class RedisGate:
    """Shared by every user of Redis in this process (rate limiter, exact cache): once
    Redis is found dead, or hung for a few calls in a row, all of them skip it for a
    second, so requests stop paying timeouts. The first call after the pause tries again,
    so everything resumes by itself when Redis is back."""

    PAUSE = 1.0  # seconds
    TIMEOUTS_BEFORE_PAUSE = 3  # a lone timeout may be a busy machine, not a dead Redis

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.closed_until = 0.0
        self.timeouts = 0
        self.tripped = False  # paused before and not answered since: the next failure pauses again

    def is_open(self) -> bool:
        return time.monotonic() >= self.closed_until

    def succeeded(self) -> None:
        self.timeouts, self.tripped = 0, False

    def failed(self, exc: BaseException) -> bool:
        """Records a failed call; True when Redis is now paused."""
        if isinstance(exc, (TimeoutError, redis.TimeoutError)) and not self.tripped:
            self.timeouts += 1
            if self.timeouts < self.TIMEOUTS_BEFORE_PAUSE:
                return False
        self.timeouts, self.tripped = 0, True
        self.closed_until = time.monotonic() + self.PAUSE
        return True


redis_gate = RedisGate()
