"""Redis connections shared by the gateway's modules: the sync client (pub/sub, admin,
sync callers) and the breaker every Redis user consults. The request path's async commands
go through gateway_site/fast_redis.py.

Short socket timeouts everywhere: a dead Redis must cost a request at most ~50 ms, never
hang it. Callers treat any RedisError as "Redis unavailable" and degrade.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

from gateway_site import runtime
from gateway_site.breaker import Breaker, Breakers, BreakerSettings
from gateway_site.redis_topology import sync_redis

_sync_client: redis.Redis | None = None
_lock = threading.Lock()


def redis_configured() -> bool:
    return bool(settings.REDIS_URL)


def _options() -> dict:
    timeout = settings.REDIS_SOCKET_TIMEOUT
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "health_check_interval": 0}


def get_sync_redis() -> redis.Redis | redis.RedisCluster:
    global _sync_client
    with _lock:
        if _sync_client is None:
            _sync_client = sync_redis(settings.REDIS_URL, **_options())
        return _sync_client


# Shared by every user of Redis in this process (rate limiter, exact cache): once Redis is
# found dead, or hung for a few calls in a row, all of them skip it for a second, so
# requests stop paying timeouts. After that second every call tries again (a half-open
# breaker without a probe limit: the limiter's check and the cache's GET leave in one
# write), and the next failure pauses it again; everything resumes by itself when Redis is back.
REDIS_BREAKER = BreakerSettings(
    threshold=3,  # timeouts in a row: a lone timeout may be a busy machine, not a dead Redis
    cooldown=1.0,
    probes=None,
)
class RedisBreakers(Breakers):
    """Redis's breaker: a part of the process's runtime."""


def redis_breaker() -> Breaker:
    return runtime.part(RedisBreakers).get("redis", REDIS_BREAKER)


def redis_call_failed(exc: BaseException) -> bool:
    """Records a failed Redis call; True when this failure paused Redis. A refused
    connection pauses at once, a timeout only after a few in a row."""
    return redis_breaker().failed(trip=not isinstance(exc, (TimeoutError, redis.TimeoutError)))
