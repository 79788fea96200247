"""Serving a chat completion: cache, then upstream with retries and fallbacks.

What happened is written into the request's `Outcome` as it happens; the front door
records it once the client has its answer (apps/completions/outcome.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from apps.cache.replay import replay_as_stream
from apps.cache.services import CachedAnswer, acache_lookup, cache_store
from apps.completions.deployments import aplan_routes, tracked
from apps.completions.failures import aupstream_call, upstream_failure
from apps.completions.outcome import Outcome
from apps.completions.providers import base
from apps.completions.providers.registry import adapter_for
from apps.completions.providers.types import ModelRoute
from apps.completions.router import (
    arun_with_fallbacks,
    candidate_routes,
    failure_from_status,
)
from apps.completions.streaming import StreamStart, relay_stream
from apps.completions.validation import ChatRequest
from apps.stats import metrics


@dataclass
class ChatResponse:
    """Either `body` (a JSON completion) or `stream` (SSE bytes) is set."""

    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None


async def achat_completion(chat: ChatRequest, outcome: Outcome) -> ChatResponse:
    cached = await acache_lookup(chat.cache, completion_id=chat.completion_id)
    if cached is not None:
        return _cached_response(chat, cached, outcome)
    routes = candidate_routes(chat.route, chat.key, chat.config)
    if chat.config.deployments:  # some model has several deployments (else nothing to pay)
        routes = await aplan_routes(routes, chat.config)
    deadline = request_deadline(chat, outcome)
    attempt = (lambda route: _attempt_stream(chat, route)) if chat.stream else (lambda route: _attempt_json(chat, route))
    if chat.config.deployments:
        attempt = tracked(attempt)
    answer, result = await arun_with_fallbacks(routes, attempt, deadline=deadline)
    outcome.served_by, outcome.attempts = result.route, result.attempts
    headers = {"X-Cache": "MISS"}
    fallback = result.route.name != chat.route.name  # another deployment of the same model is no fallback
    if fallback:
        headers["X-Gateway-Fallback-Model"] = result.route.name
    if chat.stream:
        return ChatResponse(headers=headers, stream=relay_stream(chat, answer, outcome))
    completion, body = answer
    outcome.usage = completion.get("usage")
    if not fallback:  # a fallback model's answer is not cached as the requested model's
        cache_store(chat.cache, completion)  # returns at once: the writes run after the response
    return ChatResponse(headers=headers, body=body)


def request_deadline(chat: ChatRequest, outcome: Outcome) -> float:
    """One time limit for the whole request, counted from its arrival (a stream: to its
    first words), on the event loop's clock: for arun_with_fallbacks."""
    return asyncio.get_running_loop().time() + chat.timeout - (time.perf_counter() - outcome.started)


def _cached_response(chat: ChatRequest, cached: CachedAnswer, outcome: Outcome) -> ChatResponse:
    outcome.cache, outcome.usage = cached.kind, cached.completion.get("usage")
    headers = {"X-Cache": f"HIT-{cached.kind.upper()}"}
    if chat.stream:
        return ChatResponse(headers=headers, stream=replay_as_stream(cached.completion, include_usage=chat.include_usage))
    return ChatResponse(headers=headers, body=orjson.dumps(cached.completion))


async def _attempt_json(chat: ChatRequest, route: ModelRoute) -> tuple[dict[str, Any], bytes]:
    """The completion, and its JSON for the client."""
    adapter = adapter_for(route.provider.protocol)

    def parse(body: bytes) -> tuple[dict[str, Any], bytes]:
        data = orjson.loads(body)
        completion = adapter.parse_response(data, route=route, payload=chat.payload)
        # An OpenAI upstream's answer is passed through as is: no need to encode it again.
        return completion, body if completion is data else orjson.dumps(completion)

    return await aupstream_call(route, adapter.build_request(chat.payload, route=route, stream=False), adapter.parse_error, parse)


async def _attempt_stream(chat: ChatRequest, route: ModelRoute) -> StreamStart:
    """An upstream stream that has said something: until then its errors can be retried."""
    adapter = adapter_for(route.provider.protocol)
    upstream_request = adapter.build_request(chat.payload, route=route, stream=True)
    upstream_started = time.perf_counter()
    try:
        response = await base.open_stream(upstream_request, route.provider)
    except Exception as exc:
        raise upstream_failure(route, exc) or exc from None
    try:
        if response.status != 200:
            body = await base.read_error_body(response)
            raise failure_from_status(route, adapter.parse_error(response.status, body), dict(response.headers))
        metrics.child(metrics.UPSTREAM_LATENCY, route.provider.name).observe(time.perf_counter() - upstream_started)
        state = adapter.start_stream(route=route, completion_id=chat.completion_id, created=int(time.time()),
                                     payload=chat.payload)
        batches = base.stream_event_batches(response, route.provider)
        first_chunks = await _first_chunks(adapter, state, batches)
    except BaseException as exc:
        base.release_stream(response, complete=False)
        failure = upstream_failure(route, exc) if isinstance(exc, Exception) else None
        raise failure or exc from None
    return StreamStart(route, response, batches, state, first_chunks)


async def _first_chunks(adapter, state, batches: AsyncIterator) -> list[dict[str, Any]]:
    """Reads until the upstream has said something (content, a tool call, a finish): a
    lone role chunk commits to nothing, and until the client has a byte a failure can
    still be retried or fall back. A stream that ends before that is a failure too."""
    chunks: list[dict[str, Any]] = []
    async for events in batches:
        chunks += [chunk for event in events for chunk in adapter.parse_stream_event(state, event)]
        if any(_says_something(chunk) for chunk in chunks):
            return chunks
    chunks += adapter.finish_stream(state)
    if state.finish_reason is None:
        raise base.UpstreamConnectionError(f"{state.model}: the stream ended before the answer began")
    return chunks


def _says_something(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if choice.get("finish_reason") or delta.get("content") or delta.get("tool_calls") or delta.get("refusal"):
            return True
    return False
