"""Serving a chat completion: cache, upstream with retries and fallbacks, usage."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from apps.cache.replay import replay_as_stream
from apps.cache.services import CachedAnswer, acache_lookup, cache_store
from apps.completions.accounting import record_usage
from apps.completions.providers import base
from apps.completions.providers.registry import adapter_for
from apps.completions.providers.types import ModelRoute, StreamEventError
from apps.completions.router import AttemptFailure, arun_with_fallbacks, candidate_routes, failure_from_status
from apps.completions.streaming import StreamStart, relay_stream
from apps.completions.validation import ChatRequest
from apps.stats import metrics
from gateway_site.errors import GatewayError, ProviderError, ProviderTimeout
from gateway_site.gateway_config import get_config


@dataclass
class ChatResponse:
    """Either `body` (a JSON completion) or `stream` (SSE bytes) is set."""

    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None


async def achat_completion(chat: ChatRequest) -> ChatResponse:
    started = time.perf_counter()
    cached = await acache_lookup(chat)
    if cached is not None:
        return _cached_response(chat, cached, started)
    routes = candidate_routes(chat.route, chat.key, chat.config or get_config())
    try:
        if chat.stream:
            start, outcome = await arun_with_fallbacks(routes, lambda route: _attempt_stream(chat, route))
        else:
            (completion, body), outcome = await arun_with_fallbacks(routes, lambda route: _attempt_json(chat, route))
    except GatewayError as error:
        record_usage(chat, started=started, status=error.status, error_code=error.code)
        raise
    headers = {"X-Cache": "MISS"}
    if outcome.route is not chat.route:
        headers["X-Gateway-Fallback-Model"] = outcome.route.name
    if chat.stream:
        return ChatResponse(headers=headers, stream=relay_stream(chat, start, outcome, started))
    record_usage(chat, started=started, status=200, route=outcome.route, usage=completion.get("usage"), attempts=outcome.attempts)
    if outcome.route is chat.route:  # a fallback model's answer is not cached as the requested model's
        cache_store(chat, completion)  # returns at once: the writes run after the response
    return ChatResponse(headers=headers, body=body)


def _cached_response(chat: ChatRequest, cached: CachedAnswer, started: float) -> ChatResponse:
    metrics.child(metrics.CACHE_HITS, cached.kind).inc()
    record_usage(chat, started=started, status=200, usage=cached.completion.get("usage"), cache=cached.kind)
    headers = {"X-Cache": f"HIT-{cached.kind.upper()}"}
    if chat.stream:
        return ChatResponse(headers=headers, stream=replay_as_stream(cached.completion, include_usage=chat.include_usage))
    return ChatResponse(headers=headers, body=orjson.dumps(cached.completion))


async def _attempt_json(chat: ChatRequest, route: ModelRoute) -> tuple[dict[str, Any], bytes]:
    """The completion, and its JSON for the client."""
    adapter = adapter_for(route.provider.protocol)
    upstream_request = adapter.build_request(chat.payload, route=route, stream=False)
    upstream_started = time.perf_counter()
    try:
        response = await base.send(upstream_request, route.provider)
    except base.UpstreamTimeout as exc:
        raise AttemptFailure(ProviderTimeout(str(exc)), retryable=True, reason="timeout") from None
    except base.UpstreamConnectionError as exc:
        raise AttemptFailure(ProviderError(str(exc)), retryable=True, reason="connection") from None
    metrics.child(metrics.UPSTREAM_LATENCY, route.provider.name).observe(time.perf_counter() - upstream_started)
    if response.status != 200:
        _raise_for_status(adapter, route, response.status, response.body, response.headers)
    try:
        data = orjson.loads(response.body)
        completion = adapter.parse_response(data, route=route, payload=chat.payload)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        error = ProviderError(f"{route.provider.name} returned a response the gateway could not read")
        raise AttemptFailure(error, retryable=False, reason="bad_response") from None
    # An OpenAI upstream's answer is passed through as is: no need to encode it again.
    return completion, response.body if completion is data else orjson.dumps(completion)


def _raise_for_status(adapter, route: ModelRoute, status: int, body: bytes, headers: dict[str, str]) -> None:
    outcome = failure_from_status(route, adapter.parse_error(status, body), headers)
    raise outcome


async def _attempt_stream(chat: ChatRequest, route: ModelRoute) -> StreamStart:
    adapter = adapter_for(route.provider.protocol)
    upstream_request = adapter.build_request(chat.payload, route=route, stream=True)
    upstream_started = time.perf_counter()
    try:
        response = await base.open_stream(upstream_request, route.provider)
    except base.UpstreamTimeout as exc:
        raise AttemptFailure(ProviderTimeout(str(exc)), retryable=True, reason="timeout") from None
    except base.UpstreamConnectionError as exc:
        raise AttemptFailure(ProviderError(str(exc)), retryable=True, reason="connection") from None
    if response.status != 200:
        body = await base.read_error_body(response)
        _raise_for_status(adapter, route, response.status, body, dict(response.headers))
    metrics.child(metrics.UPSTREAM_LATENCY, route.provider.name).observe(time.perf_counter() - upstream_started)
    state = adapter.start_stream(route=route, completion_id=f"chatcmpl-{chat.request_id[4:]}", created=int(time.time()),
                                 payload=chat.payload)
    batches = base.stream_event_batches(response, route.provider)
    try:
        first_chunks = await _first_chunks(adapter, state, batches)
    except BaseException as exc:
        base.release_stream(response, complete=False)
        raise _stream_failure(route, exc) from None
    return StreamStart(route, response, batches, state, first_chunks)


async def _first_chunks(adapter, state, batches: AsyncIterator) -> list[dict[str, Any]]:
    """Reads until the upstream has said something, so its errors can still be retried."""
    async for events in batches:
        chunks = [chunk for event in events for chunk in adapter.parse_stream_event(state, event)]
        if chunks:
            return chunks
    return adapter.finish_stream(state)


def _stream_failure(route: ModelRoute, exc: BaseException) -> BaseException:
    if isinstance(exc, base.UpstreamTimeout):
        return AttemptFailure(ProviderTimeout(str(exc)), retryable=True, reason="timeout")
    if isinstance(exc, base.UpstreamConnectionError):
        return AttemptFailure(ProviderError(str(exc)), retryable=True, reason="connection")
    if isinstance(exc, StreamEventError):
        return AttemptFailure(ProviderError(f"{route.provider.name}: {exc.message}"), retryable=True, reason="stream_error")
    if isinstance(exc, (ValueError, KeyError, TypeError, IndexError)):
        error = ProviderError(f"{route.provider.name} sent a stream event the gateway could not read")
        return AttemptFailure(error, retryable=False, reason="bad_response")
    return exc

