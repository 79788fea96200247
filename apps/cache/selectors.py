"""Figures for GET /admin/cache/stats, read from Redis and Postgres themselves."""

from __future__ import annotations

from typing import Any

import redis

from apps.cache import counters, exact, semantic
from gateway_site.redis_client import redis_configured


def human_bytes(size: int) -> str:
    """150MB, 1.5MB, 800KB, 12B: the contract's style."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f}{unit}" if value >= 10 else f"{value:.1f}{unit}"
    return f"{size}B"


def redis_stats() -> dict[str, Any]:
    """Memory, hits, misses and evictions are the Redis server's own (INFO), shared with
    anything else using that server; key counts are ours only (SCAN in our prefix)."""
    empty = {"connected": False, "memory_usage": "0B", "keys": 0, "hits": 0, "misses": 0, "evictions": 0, "exact_entries": 0}
    if not redis_configured():
        return empty
    try:
        client = exact.admin_redis()
        memory, stats = client.info("memory"), client.info("stats")
        ours = exact.count_keys(exact.prefix_pattern())
        entries = exact.count_keys(exact.key_pattern())
    except redis.RedisError:
        return empty
    return {
        "connected": True,
        "memory_usage": human_bytes(int(memory.get("used_memory", 0))),
        "keys": ours,
        "hits": int(stats.get("keyspace_hits", 0)),
        "misses": int(stats.get("keyspace_misses", 0)),
        "evictions": int(stats.get("evicted_keys", 0)),
        "exact_entries": entries,
    }


def semantic_stats() -> dict[str, Any]:
    table = semantic.semantic_table_stats()
    counts = counters.semantic_counters()
    hits = counts["hits"]
    return {
        "collection_size": table["rows"],
        "index_size": human_bytes(table["index_bytes"]),
        "queries": counts["queries"],
        "hits": hits,
        "avg_similarity": round(counts["similarity_micro"] / hits / 1_000_000, 4) if hits else 0.0,
        "state": semantic.semantic_cache_state(),
    }


def cache_stats() -> dict[str, Any]:
    return {"redis": redis_stats(), "semantic_cache": semantic_stats()}
