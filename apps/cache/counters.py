"""Gateway-wide semantic-cache counters for /admin/cache/stats: lookups, hits and the sum
of the hits' similarities, in one Redis hash so every process adds to the same figures.

Similarities are summed in millionths so that HINCRBY (atomic, integer) suffices. Without
Redis the counters live in this process only, like the rest of a Redis-less gateway.
"""

from __future__ import annotations

import redis

from apps.cache import exact
from gateway_site import runtime
from gateway_site.redis_client import redis_configured

KEY = "cache:stats:semantic"
FIELDS = ("queries", "hits", "similarity_micro")

class LocalCounters(dict):
    """The counters of a gateway without Redis: a part of the process's runtime."""

    def __init__(self) -> None:
        super().__init__(dict.fromkeys(FIELDS, 0))


def _increments(*, hit: bool, similarity: float) -> dict[str, int]:
    return {"queries": 1, "hits": int(hit), "similarity_micro": round(similarity * 1_000_000) if hit else 0}


async def acount_lookup(*, hit: bool, similarity: float = 0.0) -> None:
    increments = _increments(hit=hit, similarity=similarity)
    if not redis_configured():
        local = runtime.part(LocalCounters)
        for name, value in increments.items():
            local[name] += value
        return

    key = exact.full_key(KEY)
    await exact.acall_all(*(("HINCRBY", key, name, value) for name, value in increments.items() if value))


def semantic_counters() -> dict[str, int]:
    if not redis_configured():
        return dict(runtime.part(LocalCounters))
    try:
        raw = exact.admin_redis().hgetall(exact.full_key(KEY))
    except redis.RedisError:
        return dict.fromkeys(FIELDS, 0)
    return {name: int(raw.get(name.encode(), 0)) for name in FIELDS}
