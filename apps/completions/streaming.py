"""Relaying an upstream stream to the client, chunk by chunk, as it arrives.

Each upstream event is translated and yielded at once (no buffering). Once the first
bytes are out, a failure can no longer become an HTTP error: it is sent as a final
`data: {"error": ...}` event. Usage is recorded in `finally`, so a client that hangs up
is accounted for too; closing the upstream response then stops the upstream generating.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from apps.cache.services import StreamRecorder
from apps.completions.accounting import record_usage
from apps.completions.providers import base
from apps.completions.providers.registry import adapter_for
from apps.completions.providers.sse import encode_chunk
from apps.completions.providers.types import ModelRoute, StreamEventError
from apps.completions.router import RouteOutcome
from apps.completions.validation import ChatRequest
from apps.stats import metrics
from gateway_site.errors import GatewayError, ProviderError, ProviderTimeout, render_error_body

DONE = b"data: [DONE]\n\n"
CLIENT_CLOSED = 499  # nginx's convention for "the client went away"


@dataclass
class StreamStart:
    """An upstream stream that has produced its first chunks and can no longer be retried."""

    route: ModelRoute
    response: Any
    batches: AsyncIterator  # lists of SSE events, one list per network read
    state: Any
    first_chunks: list[dict[str, Any]]


def error_event(error: GatewayError, request_id: str) -> bytes:
    return b"data: " + orjson.dumps(render_error_body(error, request_id)) + b"\n\n"


async def relay_stream(chat: ChatRequest, start: StreamStart, outcome: RouteOutcome, started: float) -> AsyncIterator[bytes]:
    adapter = adapter_for(start.route.provider.protocol)
    state = start.state
    collector = StreamRecorder(chat)  # rebuilds the answer; stored only once complete
    status, error_code, complete, ttft_ms = 200, "", False, None
    try:
        yield _encode_all(start.first_chunks, collector)
        ttft_ms = (time.perf_counter() - started) * 1000
        metrics.child(metrics.TIME_TO_FIRST_TOKEN, start.route.provider.name).observe(ttft_ms / 1000)
        async for events in start.batches:
            chunks = [chunk for event in events for chunk in adapter.parse_stream_event(state, event)]
            if chunks:
                yield _encode_all(chunks, collector)
        final_chunks = adapter.finish_stream(state)
        if final_chunks:
            yield _encode_all(final_chunks, collector)
        if state.finish_reason is None:
            raise base.UpstreamConnectionError(f"{start.route.provider.name} stream ended before it finished")
        if chat.include_usage and state.usage:
            yield encode_chunk(_usage_chunk(state))
        yield DONE
        complete = True
    except asyncio.CancelledError:
        status, error_code = CLIENT_CLOSED, "client_closed"
        raise
    except GeneratorExit:
        status, error_code = CLIENT_CLOSED, "client_closed"
        raise
    except Exception as exc:
        error = _mid_stream_error(start.route, exc)
        status, error_code = error.status, error.code
        metrics.UPSTREAM_ERRORS.labels(start.route.provider.name, "mid_stream").inc()
        yield error_event(error, chat.request_id)
    finally:
        base.release_stream(start.response, complete=complete)
        record_usage(
            chat, started=started, status=status, route=start.route, usage=state.usage,
            error_code=error_code, attempts=outcome.attempts, ttft_ms=ttft_ms,
        )
        if complete and start.route is chat.route:  # never cache a fallback model's answer as the requested one's
            collector.finish(state.usage)


def _encode_all(chunks: list[dict[str, Any]], collector: StreamRecorder) -> bytes:
    for chunk in chunks:
        collector.add(chunk)
    return b"".join(encode_chunk(chunk) for chunk in chunks)


def _usage_chunk(state) -> dict[str, Any]:
    return {
        "id": state.completion_id, "object": "chat.completion.chunk", "created": state.created,
        "model": state.model, "choices": [], "usage": state.usage,
    }


def _mid_stream_error(route: ModelRoute, exc: Exception) -> GatewayError:
    if isinstance(exc, base.UpstreamTimeout):
        return ProviderTimeout(str(exc))
    if isinstance(exc, StreamEventError):
        return ProviderError(f"{route.provider.name}: {exc.message}")
    if isinstance(exc, base.UpstreamConnectionError):
        return ProviderError(str(exc))
    return ProviderError(f"{route.provider.name} sent a stream event the gateway could not read")
