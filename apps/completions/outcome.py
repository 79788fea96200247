"""What became of one API request, recorded once: usage, cost, tokens for the limiter.

Every request that got past authentication has an `Outcome`. The code that serves it
fills in what it learns (the model that answered, usage, a cache hit, attempts, the time
to first token, an error a stream could only report in-band); the front door calls
`record_outcome` exactly once, from its one `finally`, with the status the client got:
JSON, stream, cache hit, 4xx and 429 alike. A client that hung up is 499.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.completions.deployments import record_deployment_tokens
from apps.completions.providers.types import ModelRoute
from apps.keys.budgets import SpendHold, record_spend
from apps.keys.limiter import record_tokens
from apps.keys.registry import KeyInfo
from apps.stats import metrics
from apps.stats.usage import UsageData, usage_record
from gateway_site import tracing
from gateway_site.errors import GatewayError
from gateway_site.redaction import redact, shorten

CLIENT_CLOSED_CODE = "client_closed"
CHARS_PER_TOKEN = 4  # OpenAI's rule of thumb for English text; only for estimates


@dataclass
class Outcome:
    request_id: str
    key: KeyInfo
    started: float  # time.perf_counter() when the request arrived
    route: ModelRoute | None = None  # the model asked for, once known
    served_by: ModelRoute | None = None  # the model that answered (a fallback, maybe)
    stream: bool = False
    usage: dict[str, Any] | None = None
    cache: str = ""  # "exact" or "semantic" for an answer from a cache
    attempts: int = 1
    ttft_ms: float | None = None
    error: GatewayError | None = None  # an error sent inside a stream that had started as 200
    payload: dict[str, Any] | None = None  # the request body, for an estimate of its tokens
    relayed_chars: int = 0  # text a stream relayed: its tokens, if the upstream never said
    spend: SpendHold | None = None  # what admission reserved on the key's budgets
    tokens_estimated: bool = False  # `usage` is the gateway's estimate (Gemini embeddings say no count)

    def finish(self, status: int, error: GatewayError | None) -> None:
        """The front door's `on_finish` callback."""
        record_outcome(self, status=status, error=error)

    def log_fields(self) -> dict[str, Any]:
        """The request's `describe`: what the access log adds (gateway_site/access_log.py)."""
        route = self.served_by or self.route
        return {"key_prefix": self.key.prefix, "model": route.name if route else None,
                "cache": self.cache or None, "stream": self.stream}


def cost_usd(route: ModelRoute, prompt_tokens: int, completion_tokens: int) -> Decimal:
    cost = (prompt_tokens * route.input_price + completion_tokens * route.output_price) / 1_000_000
    return Decimal(str(round(cost, 8)))


def estimated_prompt_cost(route: ModelRoute, payload: dict[str, Any] | None) -> Decimal:
    """A lower bound of a request's cost: its prompt alone, from the text's length."""
    return cost_usd(route, math.ceil(_prompt_chars(payload) / CHARS_PER_TOKEN), 0)


def record_outcome(outcome: Outcome, *, status: int, error: GatewayError | None = None) -> None:
    if outcome.error is not None and status != 499:
        error = outcome.error  # the stream's own failure, not the 200 its status line said
        status = error.status
    route = outcome.served_by or outcome.route
    usage = outcome.usage or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    estimated = not usage and outcome.relayed_chars > 0  # a stream cut short: paid for all the same
    if estimated:
        prompt_tokens = math.ceil(_prompt_chars(outcome.payload) / CHARS_PER_TOKEN)
        completion_tokens = math.ceil(outcome.relayed_chars / CHARS_PER_TOKEN)
    free = bool(outcome.cache) or route is None
    cost = Decimal(0) if free else cost_usd(route, prompt_tokens, completion_tokens)
    if outcome.spend is not None:
        # The model's estimate is learned only from a whole answer, not a refusal or a cut stream.
        record_spend(outcome.spend, cost, learn=status < 400 and not estimated and route == outcome.route)
    if outcome.cache:
        metrics.child(metrics.CACHE_HITS, outcome.cache).inc()
    usage_record(
        UsageData(
            request_id=outcome.request_id,
            status_code=status,
            api_key_id=outcome.key.id,
            key_prefix=outcome.key.prefix,
            team_id=outcome.key.team_id,
            model=route.name if route else "",
            provider=route.provider.name if route else "",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            latency_ms=(time.perf_counter() - outcome.started) * 1000,
            ttft_ms=outcome.ttft_ms,
            error_code=error.code if error is not None else (CLIENT_CLOSED_CODE if status == 499 else ""),
            error_message=public_message(error.message) if error is not None else "",
            cache=outcome.cache,
            stream=outcome.stream,
            attempts=outcome.attempts,
            fallback_from=outcome.route.name if route is not None and route.name != outcome.route.name else "",
            tokens_estimated=estimated or outcome.tokens_estimated,
        )
    )
    if not outcome.cache:  # answers from a cache cost no upstream tokens, so they do not count
        record_tokens(outcome.key, prompt_tokens + completion_tokens)
        if route is not None and getattr(route, "tpm", None):  # a deployment with its own quota
            record_deployment_tokens(route, prompt_tokens + completion_tokens)
    if tracing.tracer is not None:
        _trace_outcome(outcome, route, status, error, prompt_tokens, completion_tokens)


def _trace_outcome(outcome: Outcome, route: ModelRoute | None, status: int, error: GatewayError | None,
                   prompt_tokens: int, completion_tokens: int) -> None:
    """The request's span (the front door's, current here) gets the GenAI attributes."""
    span = tracing.current_span()
    span.set_attribute("http.response.status_code", status)
    span.set_attribute("gateway.attempts", outcome.attempts)
    if outcome.cache:
        span.set_attribute("gateway.cache", outcome.cache)
    if error is not None and status >= 500:  # a 4xx is the client's: the span did its job
        tracing.failed(span, error.code)
    elif error is not None:
        span.set_attribute("error.type", error.code)
    if route is None:
        return
    span.set_attributes({
        "gen_ai.operation.name": "chat",
        "gen_ai.system": tracing.gen_ai_system(route.provider.protocol),
        "gen_ai.request.model": outcome.route.name,
        "gen_ai.response.model": route.name,
        "gen_ai.usage.input_tokens": prompt_tokens,
        "gen_ai.usage.output_tokens": completion_tokens,
    })


@functools.lru_cache(maxsize=512)
def public_message(message: str) -> str:
    """The error message as stored: secrets redacted, shortened. Cached: the same few
    messages recur (a flood of 429s), and redacting one costs ~16 µs."""
    return shorten(redact(message))


def _prompt_chars(payload: dict[str, Any] | None) -> int:
    """The text of a request's messages (string contents and text parts)."""
    total = 0
    for message in (payload or {}).get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(part.get("text") or "") for part in content if isinstance(part, dict))
    return total
