"""Relaying an upstream stream to the client, chunk by chunk, as it arrives.

Each upstream event is translated and yielded at once (no buffering). Once the first
bytes are out, a failure can no longer become an HTTP error: it is sent as a final
`data: {"error": ...}` event and noted in the request's Outcome. The front door records
the outcome once the stream has ended or the client has hung up; closing the upstream
response (here, in `finally`) stops the upstream generating for a client that left.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from apps.cache.services import StreamRecorder
from apps.completions.failures import upstream_failure
from apps.completions.outcome import Outcome
from apps.completions.providers import base
from apps.completions.providers.registry import adapter_for
from apps.completions.providers.types import ModelRoute
from apps.completions.validation import ChatRequest
from apps.stats import metrics
from gateway_site import tracing
from gateway_site.errors import GatewayError, ProviderError, render_error_body
from gateway_site.sse import DONE, encode_event


@dataclass
class StreamStart:
    """An upstream stream that has produced its first chunks and can no longer be retried."""

    route: ModelRoute
    response: Any
    batches: AsyncIterator  # lists of SSE events, one list per network read
    state: Any
    first_chunks: list[dict[str, Any]]


def error_event(error: GatewayError, request_id: str) -> bytes:
    return encode_event(render_error_body(error, request_id))


async def relay_stream(chat: ChatRequest, start: StreamStart, outcome: Outcome) -> AsyncIterator[bytes]:
    adapter = adapter_for(start.route.provider.protocol)
    state = start.state
    recorder = StreamRecorder(chat.cache)  # rebuilds the answer; stored only once complete
    complete = False
    # Not made current: the front door may close this generator from another context.
    span = tracing.detached_span("gateway.stream", attributes={"gateway.model": start.route.name}) \
        if tracing.tracer is not None else None
    try:
        yield _encode_all(start.first_chunks, recorder, outcome)
        outcome.ttft_ms = (time.perf_counter() - outcome.started) * 1000
        metrics.child(metrics.TIME_TO_FIRST_TOKEN, start.route.provider.name).observe(outcome.ttft_ms / 1000)
        async for events in start.batches:
            chunks = [chunk for event in events for chunk in adapter.parse_stream_event(state, event)]
            if chunks:
                yield _encode_all(chunks, recorder, outcome)
        final_chunks = adapter.finish_stream(state)
        if final_chunks:
            yield _encode_all(final_chunks, recorder, outcome)
        if state.finish_reason is None:
            raise base.UpstreamConnectionError(f"{start.route.provider.name} stream ended before it finished")
        if chat.include_usage and state.usage:
            yield encode_event(_usage_chunk(state))
        yield DONE
        complete = True
    except Exception as exc:
        failure = upstream_failure(start.route, exc)
        outcome.error = failure.error if failure is not None else ProviderError(f"{start.route.provider.name} stream failed")
        metrics.UPSTREAM_ERRORS.labels(start.route.provider.name, "mid_stream").inc()
        yield error_event(outcome.error, chat.request_id)
    finally:
        outcome.usage = state.usage
        if span is not None:
            _end_span(span, complete, outcome)
        base.release_stream(start.response, complete=complete)
        if complete and start.route is chat.route:  # never cache a fallback model's answer as the requested one's
            recorder.finish(state.usage)


def _end_span(span, complete: bool, outcome: Outcome) -> None:
    span.set_attribute("gateway.stream.complete", complete)
    span.set_attribute("gateway.stream.relayed_chars", outcome.relayed_chars)
    if outcome.error is not None:
        tracing.failed(span, outcome.error.code)
    span.end()


def _encode_all(chunks: list[dict[str, Any]], recorder: StreamRecorder, outcome: Outcome) -> bytes:
    for chunk in chunks:
        recorder.add(chunk)
        outcome.relayed_chars += _text_length(chunk)
    return b"".join(encode_event(chunk) for chunk in chunks)


def _text_length(chunk: dict[str, Any]) -> int:
    """Characters of content and tool-call arguments in a chunk."""
    length = 0
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        length += len(delta.get("content") or "")
        for call in delta.get("tool_calls") or ():
            length += len((call.get("function") or {}).get("arguments") or "")
    return length


def _usage_chunk(state) -> dict[str, Any]:
    return {
        "id": state.completion_id, "object": "chat.completion.chunk", "created": state.created,
        "model": state.model, "choices": [], "usage": state.usage,
    }
