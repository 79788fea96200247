"""Usage and cost of one request, handed to the usage writer."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from apps.completions.providers.types import ModelRoute
from apps.completions.validation import ChatRequest
from apps.keys.limiter import record_tokens
from apps.stats.usage import UsageData, usage_record


def cost_usd(route: ModelRoute, prompt_tokens: int, completion_tokens: int) -> Decimal:
    cost = (prompt_tokens * route.input_price + completion_tokens * route.output_price) / 1_000_000
    return Decimal(str(round(cost, 8)))


def record_usage(
    chat: ChatRequest,
    *,
    started: float,
    status: int,
    route: ModelRoute | None = None,
    usage: dict[str, Any] | None = None,
    error_code: str = "",
    cache: str = "",
    attempts: int = 1,
    ttft_ms: float | None = None,
) -> None:
    route = route or chat.route
    usage = usage or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    usage_record(
        UsageData(
            request_id=chat.request_id,
            status_code=status,
            api_key_id=chat.key.id,
            key_prefix=chat.key.prefix,
            model=route.name,
            provider=route.provider.name,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=Decimal(0) if cache else cost_usd(route, prompt_tokens, completion_tokens),
            latency_ms=(time.perf_counter() - started) * 1000,
            ttft_ms=ttft_ms,
            error_code=error_code,
            cache=cache,
            stream=chat.stream,
            attempts=attempts,
            fallback_from=chat.route.name if route.name != chat.route.name else "",
        )
    )
    if not cache:  # answers from a cache cost no upstream tokens, so they do not count
        record_tokens(chat.key, prompt_tokens + completion_tokens)


