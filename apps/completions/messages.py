"""Serving POST /v1/messages and /v1/messages/count_tokens (the Anthropic Messages API).

Two paths, chosen by the model asked for:

- a Claude model (an `anthropic` protocol provider) gets the request *as sent*, only the
  model name mapped to the upstream's and the gateway's credentials in the headers, and
  its answer (or its events, as they come) is relayed with the model name put back:
  nothing of thinking blocks, cache_control, server tools or betas is lost in a double
  translation. Its retries, breakers and fallbacks are the router's; a fallback to a
  non-Claude model is served translated.
- any other model: the request is translated to the gateway's OpenAI-shaped chat payload
  (apps/completions/ingress/anthropic_messages.py) and served by `achat_completion`, exact
  cache included (not the semantic cache); its answer or stream is translated back.

Either way the front door records the request's Outcome once (apps/completions/outcome.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from apps.cache.services import cache_plan
from apps.completions.failures import aupstream_call, upstream_failure
from apps.completions.ingress import anthropic_messages as messages
from apps.completions.outcome import Outcome
from apps.completions.providers import base
from apps.completions.providers.anthropic import ANTHROPIC_VERSION, AnthropicAdapter
from apps.completions.providers.types import ModelRoute, SseEvent, StreamEventError, UpstreamRequest
from apps.completions.router import arun_with_fallbacks, candidate_routes, failure_from_status
from apps.completions.services import ChatResponse, _attempt_json, _attempt_stream, achat_completion, request_deadline
from apps.completions.streaming import relay_stream
from apps.completions.validation import ChatRequest, cache_query, json_object, model_route, request_timeout
from apps.keys.registry import KeyInfo
from apps.stats import metrics
from gateway_site.errors import ProviderError, ProviderTimeout
from gateway_site.gateway_config import GatewayConfig

ANTHROPIC = AnthropicAdapter()  # for its reading of Anthropic error bodies
# Request headers a Claude upstream gets from the client as they are.
PASSED_HEADERS = ("anthropic-version", "anthropic-beta")
# What Anthropic's count_tokens accepts of a Messages request.
COUNT_TOKENS_FIELDS = ("messages", "system", "tools", "tool_choice", "thinking", "mcp_servers")
# Events after which a Claude stream has said something: until then it can still be retried.
SAYS_SOMETHING = frozenset({"content_block_start", "content_block_delta", "message_delta", "message_stop"})


@dataclass
class MessagesRequest(ChatRequest):
    """A Messages request: `payload` is its OpenAI-shaped translation (what a translated
    model gets, and what estimates read), `body` the request as the client sent it."""

    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # the client's anthropic-* headers

    @property
    def passthrough(self) -> bool:
        return self.route.provider.protocol == "anthropic"


def parse_messages_request(
    raw: bytes, *, key: KeyInfo, config: GatewayConfig, request_id: str, headers: dict[str, str],
    count_tokens: bool = False,
) -> MessagesRequest:
    body = json_object(raw)
    messages.check_request(body, count_tokens=count_tokens)
    route = model_route(body["model"], key=key, config=config)
    passthrough = route.provider.protocol == "anthropic"
    payload = messages.chat_payload(body, strict=not passthrough)
    # Only a translated, generating request may use the exact cache; never the semantic one.
    cacheable = not passthrough and not count_tokens
    query = cache_query(payload, route=route, key=key,
                        cache_control=headers.get("cache-control", "") if cacheable else "no-store")
    plan = dataclasses.replace(cache_plan(query, config.cache), semantic=None, semantic_read=False, semantic_write=False)
    stream = bool(body.get("stream")) and not count_tokens
    return MessagesRequest(
        payload=payload, route=route, key=key, request_id=request_id, stream=stream, include_usage=stream,
        config=config, cache=plan, timeout=request_timeout(headers.get("x-stainless-timeout", "")), body=body,
        headers={name: headers[name] for name in PASSED_HEADERS if headers.get(name)},
    )


async def amessages(request: MessagesRequest, outcome: Outcome) -> ChatResponse:
    if request.passthrough:
        return await _apassthrough(request, outcome)
    result = await achat_completion(request, outcome)
    model = (outcome.served_by or request.route).name
    events = messages.MessageEvents(message_id=messages.message_id(request.request_id), model=model)
    if result.stream is not None:
        return ChatResponse(headers=result.headers, stream=messages.message_stream(result.stream, events))
    answer = messages.message(orjson.loads(result.body), message_id=events.message_id, model=model)
    return ChatResponse(headers=result.headers, body=orjson.dumps(answer))


async def acount_tokens(request: MessagesRequest) -> tuple[int, bool]:
    """(input tokens, whether estimated). A Claude model's own count, from its upstream;
    any other model's, or a Claude model's whose upstream failed, estimated."""
    if request.passthrough:
        try:
            tokens, _ = await arun_with_fallbacks([request.route], lambda route: _acount_upstream(request, route))
            return tokens, False
        except (ProviderError, ProviderTimeout):
            pass  # degrade: the estimate is better than no answer
    return messages.estimated_input_tokens(request.body), True


# --- A Claude model: the request as sent --------------------------------------------------


def _upstream_request(request: MessagesRequest, route: ModelRoute, body: dict[str, Any], path: str) -> UpstreamRequest:
    headers = {"anthropic-version": ANTHROPIC_VERSION, **request.headers, "x-api-key": route.provider.api_key}
    return UpstreamRequest(url=f"{route.provider.base_url.rstrip('/')}{path}", headers=headers,
                           json={**body, "model": route.upstream_model})


async def _apassthrough(request: MessagesRequest, outcome: Outcome) -> ChatResponse:
    routes = candidate_routes(request.route, request.key, request.config)
    attempt = _attempt_stream_passthrough if request.stream else _attempt_json_passthrough
    answer, result = await arun_with_fallbacks(routes, lambda route: attempt(request, route, outcome),
                                               deadline=request_deadline(request, outcome))
    outcome.served_by, outcome.attempts = result.route, result.attempts
    headers = {"X-Cache": "MISS"}
    if result.route is not request.route:
        headers["X-Gateway-Fallback-Model"] = result.route.name
    if request.stream:
        return ChatResponse(headers=headers, stream=answer)
    return ChatResponse(headers=headers, body=answer)


async def _attempt_json_passthrough(request: MessagesRequest, route: ModelRoute, outcome: Outcome) -> bytes:
    if route.provider.protocol != "anthropic":  # a fallback to another provider: translated
        completion, _ = await _attempt_json(request, route)
        outcome.usage = completion.get("usage")
        return orjson.dumps(messages.message(completion, message_id=messages.message_id(request.request_id), model=route.name))
    def parse(body: bytes) -> bytes:
        answer = orjson.loads(body)
        answer["model"] = route.name
        outcome.usage = messages.openai_usage(answer["usage"])
        return orjson.dumps(answer)

    return await aupstream_call(route, _upstream_request(request, route, request.body, "/v1/messages"), ANTHROPIC.parse_error, parse)


async def _attempt_stream_passthrough(request: MessagesRequest, route: ModelRoute, outcome: Outcome) -> AsyncIterator[bytes]:
    if route.provider.protocol != "anthropic":
        start = await _attempt_stream(request, route)
        events = messages.MessageEvents(message_id=messages.message_id(request.request_id), model=route.name)
        return messages.message_stream(relay_stream(request, start, outcome), events)
    upstream = _upstream_request(request, route, {**request.body, "stream": True}, "/v1/messages")
    started = time.perf_counter()
    try:
        response = await base.open_stream(upstream, route.provider)
    except Exception as exc:
        raise upstream_failure(route, exc) or exc from None
    relay = _ClaudeRelay(route, outcome)
    try:
        if response.status != 200:
            body = await base.read_error_body(response)
            raise failure_from_status(route, ANTHROPIC.parse_error(response.status, body), dict(response.headers))
        metrics.child(metrics.UPSTREAM_LATENCY, route.provider.name).observe(time.perf_counter() - started)
        batches = base.stream_event_batches(response, route.provider)
        first = await relay.first_events(batches)
    except BaseException as exc:
        base.release_stream(response, complete=False)
        failure = upstream_failure(route, exc) if isinstance(exc, Exception) else None
        raise failure or exc from None
    return relay.relay(response, batches, first)


class _ClaudeRelay:
    """A Claude stream's events relayed as they come, the model name put back, its usage
    and text noted in the Outcome."""

    def __init__(self, route: ModelRoute, outcome: Outcome) -> None:
        self.route, self.outcome = route, outcome
        self.raw_usage: dict[str, Any] = {}
        self.stopped = False

    async def first_events(self, batches: AsyncIterator[list[SseEvent]]) -> bytes:
        """Reads until the stream has said something; an error event or an end before
        that is a failure the router may retry."""
        out: list[bytes] = []
        async for events in batches:
            out += [self.event(event, before_start=True) for event in events]
            if any(event.event in SAYS_SOMETHING for event in events):
                return b"".join(out)
        raise base.UpstreamConnectionError(f"{self.route.provider.name}: the stream ended before the answer began")

    def event(self, event: SseEvent, *, before_start: bool = False) -> bytes:
        name, data = event.event or "", event.data
        if name in ("message_start", "message_delta", "content_block_delta", "error"):
            parsed = orjson.loads(data)
            if name == "message_start":
                parsed["message"]["model"] = self.route.name
                self.raw_usage = dict(parsed["message"].get("usage") or {})
                data = orjson.dumps(parsed).decode()
            elif name == "message_delta":
                # message_delta usage is cumulative: the last one is final.
                self.raw_usage.update({k: v for k, v in (parsed.get("usage") or {}).items() if v is not None})
            elif name == "content_block_delta":
                delta = parsed.get("delta") or {}
                self.outcome.relayed_chars += len(delta.get("text") or delta.get("partial_json") or "")
            else:
                error = parsed.get("error") or {}
                if before_start:
                    raise StreamEventError(str(error.get("message") or "stream error"), error.get("type"))
                self.outcome.error = ProviderError(f"{self.route.provider.name}: {error.get('message') or 'stream error'}")
            if self.raw_usage.get("input_tokens") is not None:
                self.outcome.usage = messages.openai_usage(self.raw_usage)
        elif name == "message_stop":
            self.stopped = True
        return b"event: " + name.encode() + b"\ndata: " + data.encode() + b"\n\n"

    async def relay(self, response: Any, batches: AsyncIterator[list[SseEvent]], first: bytes) -> AsyncIterator[bytes]:
        outcome, provider = self.outcome, self.route.provider.name
        complete = False
        try:
            yield first
            outcome.ttft_ms = (time.perf_counter() - outcome.started) * 1000
            metrics.child(metrics.TIME_TO_FIRST_TOKEN, provider).observe(outcome.ttft_ms / 1000)
            async for events in batches:
                yield b"".join(self.event(event) for event in events)
            if not self.stopped and outcome.error is None:
                raise base.UpstreamConnectionError(f"{provider} stream ended before it finished")
            complete = True
        except Exception as exc:
            failure = upstream_failure(self.route, exc)
            outcome.error = failure.error if failure is not None else ProviderError(f"{provider} stream failed")
            metrics.UPSTREAM_ERRORS.labels(provider, "mid_stream").inc()
            yield messages.error_event(outcome.error)
        finally:
            base.release_stream(response, complete=complete)


async def _acount_upstream(request: MessagesRequest, route: ModelRoute) -> int:
    body = {name: request.body[name] for name in COUNT_TOKENS_FIELDS if name in request.body}
    upstream = _upstream_request(request, route, body, "/v1/messages/count_tokens")
    try:
        response = await base.send(upstream, route.provider)
        if response.status != 200:
            raise failure_from_status(route, ANTHROPIC.parse_error(response.status, response.body), response.headers)
        return int(orjson.loads(response.body)["input_tokens"])
    except Exception as exc:
        raise upstream_failure(route, exc) or exc from None
