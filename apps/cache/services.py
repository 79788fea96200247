"""The caches' part of serving a completion, and clearing them.

The caller describes its request as a `CacheQuery` and gets a `CachePlan` back
(`cache_plan`): which caches apply, their keys, and the query embedding once computed.
The same plan serves the lookup and the store after the response, so nothing is
recomputed. Order of a lookup: exact (one Redis GET), then semantic (embed + nearest +
verify). Stores never delay a response: they run as background tasks (tasks.spawn).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from apps.cache import exact, semantic, tasks
from apps.cache.policy import CachePlan, CacheQuery, embedding_plan_for, plan_for
from apps.cache.replay import CompletionBuilder
from apps.stats import metrics
from gateway_site import tracing
from gateway_site.gateway_config import CacheSettings

# An answer cut by max_tokens ("length") is still the complete answer to that request.
# "content_filter" and unknown reasons may be transient: not cached.
CACHEABLE_FINISH = frozenset({"stop", "length", "tool_calls"})


@dataclass
class CachedAnswer:
    kind: str  # "exact" or "semantic"
    completion: dict[str, Any]


def cache_plan(query: CacheQuery, settings: CacheSettings) -> CachePlan:
    return plan_for(query, settings)


def embedding_cache_plan(query: CacheQuery, settings: CacheSettings) -> CachePlan:
    return embedding_plan_for(query, settings)


def _as_new_response(completion: dict[str, Any], completion_id: str) -> dict[str, Any]:
    # A replay is a new response: its own id (the request's, like a streamed miss) and time.
    completion["id"] = completion_id
    completion["created"] = int(time.time())
    return completion


async def acache_prefetch(plan: CachePlan) -> None:
    """Sends the exact cache's GET now, before the rate limiter's check is sent, so both
    leave in one write and share one Redis round trip; the lookup then awaits the reply.
    (If the request is refused, the reply is simply dropped.)"""
    if plan.exact_read:
        plan.exact_prefetch = await exact.aprefetch(plan.exact_key)


async def acache_lookup(plan: CachePlan, *, completion_id: str) -> CachedAnswer | None:
    """The answer a cache holds for this request, or None; counts misses per cache consulted.
    A hit carries `completion_id` as its id."""
    if tracing.tracer is None:
        return await _alookup(plan, completion_id)
    with tracing.span("gateway.cache.lookup") as span:
        answer = await _alookup(plan, completion_id)
        span.set_attribute("gateway.cache.result", answer.kind if answer is not None else "miss")
        return answer


async def _alookup(plan: CachePlan, completion_id: str) -> CachedAnswer | None:
    if plan.exact_read:
        prefetched, plan.exact_prefetch = plan.exact_prefetch, None
        completion = await exact.aget(plan.exact_key, prefetched=prefetched)
        if completion is not None:
            return CachedAnswer("exact", _as_new_response(completion, completion_id))
        metrics.child(metrics.CACHE_MISSES, "exact").inc()
    if plan.semantic_read and await semantic.aavailable():
        hit = await semantic.alookup(plan.semantic)
        if hit is not None:
            return CachedAnswer("semantic", _as_new_response(hit.completion, completion_id))
        metrics.child(metrics.CACHE_MISSES, "semantic").inc()
    return None


async def acache_lookup_embeddings(plan: CachePlan) -> dict[str, Any] | None:
    """The document `embeddings_cache_store` kept for this request, or None (a miss counted)."""
    if not plan.exact_read:
        return None
    prefetched, plan.exact_prefetch = plan.exact_prefetch, None
    document = await exact.aget(plan.exact_key, prefetched=prefetched)
    if document is None:
        metrics.child(metrics.CACHE_MISSES, "exact").inc()
    return document


def embeddings_cache_store(plan: CachePlan, document: dict[str, Any]) -> None:
    """Schedules the write; returns at once (must run on the event loop)."""
    if plan.exact_write:
        tasks.spawn(exact.aset(plan.exact_key, document, ttl=plan.exact_ttl))


def is_cacheable(completion: dict[str, Any] | None) -> bool:
    """Only complete, successful answers: every choice finished normally with a message."""
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if not isinstance(choices, list) or not choices:
        return False
    return all(
        isinstance(choice, dict) and choice.get("finish_reason") in CACHEABLE_FINISH and isinstance(choice.get("message"), dict)
        for choice in choices
    )


def cache_store(plan: CachePlan, completion: dict[str, Any]) -> None:
    """Schedules the writes; returns at once (must run on the event loop)."""
    if plan.idle or not is_cacheable(completion):
        return
    if plan.exact_write:
        tasks.spawn(exact.aset(plan.exact_key, completion, ttl=plan.exact_ttl))
    if plan.semantic_write:
        semantic.enqueue_store(plan.semantic, completion)


class StreamRecorder:
    """Rebuilds a relayed stream; `finish` stores it (called only once it completed)."""

    def __init__(self, plan: CachePlan) -> None:
        self.plan = plan
        self.builder = CompletionBuilder()
        self.wanted = not plan.idle

    def add(self, chunk: dict[str, Any]) -> None:
        if self.wanted:
            self.builder.add(chunk)

    def finish(self, usage: dict[str, Any] | None) -> None:
        if self.wanted:
            completion = self.builder.completion(usage)
            if completion is not None:
                cache_store(self.plan, completion)


def cache_clear(*, exact_cache: bool = True, semantic_cache: bool = True, namespace: str | None = None) -> dict[str, int]:
    """Empties the chosen caches (or one namespace of them) while traffic flows; returns
    how many entries each one really lost."""
    return {
        "exact_cache": exact.exact_clear(namespace=namespace) if exact_cache else 0,
        "semantic_cache": semantic.semantic_clear(namespace=namespace) if semantic_cache else 0,
    }
